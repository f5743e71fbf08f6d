/** The README's examples run as written and release every tensor they make. */
import { expectNoLeaks, runReadme } from '@dgm-js/test-utils';
import { expect, it } from 'vitest';

it('README examples run as written', async () => {
  const readme = new URL('../README.md', import.meta.url);
  expect(await expectNoLeaks(() => runReadme(readme), 'the README examples')).toBe(2);
});
