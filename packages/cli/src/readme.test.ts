/**
 * The README's Quick start block, run as written (each `dgm ...` line through the built CLI, in
 * a temporary directory), and its printed output checked against the shape the README shows.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'dgm-cli-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The fenced blocks of a section, with their language. */
function blocks(section: string): { lang: string; body: string }[] {
  const start = README.indexOf(`## ${section}\n`);
  const end = README.indexOf('\n## ', start + 1);
  const text = README.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, DGM_QUIET: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('README', () => {
  it('Quick start runs as written and prints what the README shows', async () => {
    const [sh, shown] = blocks('Quick start').filter((b) => b.lang === 'sh' || b.lang === 'text');
    expect(sh?.lang).toBe('sh');
    expect(shown?.lang).toBe('text');
    const lines = sh!.body.trim().split('\n');
    expect(lines).toHaveLength(4);
    let printed = '';
    for (const line of lines) {
      const [cmd, ...args] = line.trim().split(/\s+/);
      expect(cmd).toBe('dgm');
      const r = await run(args);
      expect(r.stderr, line).toBe('');
      expect(r.status, line).toBe(0);
      printed += r.stdout;
    }
    // the same lines as the README's output, numbers aside
    const shape = (s: string) =>
      s
        .trim()
        .split('\n')
        .map((l) => l.replace(/-?\d+(\.\d+)?/g, '#'));
    expect(shape(printed)).toEqual(shape(shown!.body));
    for (const m of printed.matchAll(/^(elbo|iwae|fid) +(\S+)/gm)) {
      expect(Number.isFinite(Number(m[2])), m[1]).toBe(true);
    }
    expect(existsSync(join(dir, 'runs/vae/grid.png'))).toBe(true);
  });
});
