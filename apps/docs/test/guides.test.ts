/**
 * Every TypeScript code block of the guides runs as written (in Node), so the docs cannot rot:
 * each page's ```ts blocks that import something are extracted and executed by test-utils'
 * runReadme, in page order. Sketches not meant to run alone carry `<!-- no-run -->` on the line
 * before their fence; this test also fails if a page's ts blocks are all skipped that way.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readmeBlocks, runReadme } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';

const site = fileURLToPath(new URL('../site/', import.meta.url));
const pages = ['guide', 'models'].flatMap((dir) =>
  readdirSync(join(site, dir))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(dir, f)),
);

/** The number of ```ts fences on a page, run or not. */
const fences = (md: string) =>
  md.split('\n').filter((l) => /^```(ts|typescript)\b/.test(l.trim())).length;

describe('guide code blocks run as written', () => {
  it('finds the guides', () => {
    expect(pages).toContain(join('guide', 'getting-started.md'));
    expect(pages).toContain(join('guide', 'lecture.md'));
  });
  for (const page of pages) {
    const md = readFileSync(join(site, page), 'utf8');
    const runnable = readmeBlocks(md).length;
    if (fences(md) === 0) continue;
    it(`${page}: ${runnable} block(s)`, async () => {
      expect(runnable).toBeGreaterThan(0);
      expect(await runReadme(join(site, page))).toBe(runnable);
    });
  }
});
