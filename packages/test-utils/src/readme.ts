import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** One runnable code block of a README. */
export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
}

/**
 * The TypeScript blocks of a README that run as written: every ```ts / ```typescript block that
 * imports something, except blocks preceded (on the line before the fence) by `<!-- no-run -->`,
 * which mark sketches that are not meant to run alone.
 */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const out: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\s*$/.exec(lines[i]!.trim());
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) body.push(lines[i]!);
    const skip = start > 0 && /<!--\s*no-run\s*-->/.test(lines[start - 1]!);
    const code = body.join('\n');
    if (!skip && /^\s*import\s/m.test(code)) out.push({ line: start + 1, code });
  }
  return out;
}

/**
 * Runs every runnable block of the README at `readme` (a file URL or path) as an ES module from a
 * scratch folder `.readme-examples/` beside it, so its imports resolve as a user's would inside the
 * workspace (`@dgm-js/*` by package name). Throws, naming the README line, when a block fails.
 * Returns the number of blocks run; a README without one is an error (it must have an example).
 */
export async function runReadme(readme: string | URL): Promise<number> {
  const path = typeof readme === 'string' ? readme : fileURLToPath(readme);
  const blocks = readmeBlocks(readFileSync(path, 'utf8'));
  if (blocks.length === 0) throw new Error(`${path}: no runnable \`\`\`ts block with an import.`);
  const dir = join(dirname(path), '.readme-examples');
  mkdirSync(dir, { recursive: true });
  for (const b of blocks) {
    const file = join(dir, `line-${b.line}.ts`);
    writeFileSync(file, `${b.code}\nexport {};\n`);
    try {
      await import(/* @vite-ignore */ pathToFileURL(file).href);
    } catch (e) {
      const err = new Error(`${path}:${b.line}: the README example failed: ${String(e)}`);
      (err as Error & { cause?: unknown }).cause = e;
      throw err;
    }
  }
  return blocks.length;
}
