import { describe, expect, it } from 'vitest';
import { readmeBlocks } from './readme.js';

describe('readmeBlocks', () => {
  it('takes ts blocks with an import, skips sh blocks, import-less snippets and no-run sketches', () => {
    const md = [
      '# x', // 1
      '```sh', // 2
      'npm i x', // 3
      '```', // 4
      '```ts', // 5
      "import { a } from 'a';", // 6
      'a();', // 7
      '```', // 8
      '```ts', // 9
      'a(); // fragment', // 10
      '```', // 11
      '<!-- no-run -->', // 12
      '```ts', // 13
      "import { b } from 'b';", // 14
      '```', // 15
    ].join('\n');
    expect(readmeBlocks(md)).toEqual([{ line: 5, code: "import { a } from 'a';\na();" }]);
  });
});
