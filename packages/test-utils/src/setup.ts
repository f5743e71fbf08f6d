// vitest setupFiles entry: registers the matchers and initialises the backend once per file.
import { initBackend } from '@dgm-js/core-tensors';
import './matchers.js';

await initBackend({ quiet: true });
