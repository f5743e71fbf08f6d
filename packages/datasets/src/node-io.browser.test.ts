import { ValueError } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import * as browser from './node-io.browser.js';
import * as node from './node-io.js';

/** The browser twin of node-io (what `#node-io` resolves to outside Node): same exports. */
describe('node-io.browser', () => {
  it('exports exactly what node-io exports, with the same constants', () => {
    expect(Object.keys(browser).sort()).toEqual(Object.keys(node).sort());
    expect(browser.MNIST_DATA_RANGE).toBe(node.MNIST_DATA_RANGE);
    expect(browser.DEBIAN_FASHION_MNIST_DIR).toBe(node.DEBIAN_FASHION_MNIST_DIR);
  });

  it('file access throws a ValueError naming the browser way', async () => {
    for (const call of [
      () => browser.readIdxFile('/x'),
      () => browser.findIdxFiles('/x'),
      () => browser.mnistDataDir(),
    ]) {
      const e = await call().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(ValueError);
      expect((e as Error).message).toMatch(/needs Node\.js.*imageDatasetsFromIdx\(\)/);
    }
    expect(browser.fashionMnistCandidates()).toEqual([]);
    expect(() => browser.clearIdxCache()).not.toThrow();
  });
});
