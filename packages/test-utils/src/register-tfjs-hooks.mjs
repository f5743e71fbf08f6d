// `node --import tsx --import ./register-tfjs-hooks.mjs child.ts`: installs tfjs-esm-hooks.mjs.
import { register } from 'node:module';

register('./tfjs-esm-hooks.mjs', import.meta.url);
