/** The README's examples run as written. */
import { runReadme } from '@dgm-js/test-utils';
import { expect, it } from 'vitest';

it('README examples run as written', async () => {
  expect(await runReadme(new URL('../README.md', import.meta.url))).toBeGreaterThan(0);
});
