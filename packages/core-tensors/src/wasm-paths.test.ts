import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, initBackend, tf, ValueError, WASM_BINARIES } from './index.js';
import {
  normalizeWasmPaths,
  probeWasmUrl,
  wasmBinaryFor,
  wasmFailureMessage,
  wasmUrlOf,
} from './wasm-paths.js';

/** A local server: 404 for everything but /page.html (an HTML page, as SPA servers answer). */
let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/page.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html>');
    } else res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('wasmPaths option', () => {
  it('a directory gets its trailing slash; a URL object becomes its href', () => {
    expect(normalizeWasmPaths('/static/tfjs').paths).toBe('/static/tfjs/');
    expect(normalizeWasmPaths('/static/tfjs/').paths).toBe('/static/tfjs/');
    expect(normalizeWasmPaths(new URL('https://cdn.example/wasm')).paths).toBe(
      'https://cdn.example/wasm/',
    );
    expect(normalizeWasmPaths('/a').source).toBe('options.wasmPaths');
  });

  it('a map needs all three binaries and no other keys', () => {
    const full = Object.fromEntries(WASM_BINARIES.map((n) => [n, new URL(`https://h/${n}`)]));
    expect(normalizeWasmPaths(full as never).paths).toEqual(
      Object.fromEntries(WASM_BINARIES.map((n) => [n, `https://h/${n}`])),
    );
    const partial = { 'tfjs-backend-wasm.wasm': '/a.wasm' };
    expect(() => normalizeWasmPaths(partial as never)).toThrow(ValueError);
    expect(() => normalizeWasmPaths(partial as never)).toThrow(
      /missing: tfjs-backend-wasm-simd\.wasm, tfjs-backend-wasm-threaded-simd\.wasm/,
    );
    expect(() => normalizeWasmPaths({ ...full, 'x.wasm': '/x' } as never)).toThrow(
      /unknown keys: x\.wasm/,
    );
    expect(() => normalizeWasmPaths('')).toThrow(/options\.wasmPaths is empty/);
    expect(() => normalizeWasmPaths(42 as never)).toThrow(/got number/);
  });

  it('initBackend rejects a bad wasmPaths with the ValueError, before touching the backend', async () => {
    const backend = tf.getBackend();
    await expect(
      initBackend({ quiet: true, wasmPaths: { 'tfjs-backend-wasm.wasm': '/a' } as never }),
    ).rejects.toThrow(ValueError);
    expect(tf.getBackend()).toBe(backend);
  });

  it('wasmPaths after the wasm backend initialised is a BackendError, not silently ignored', async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    const err = await initBackend({ quiet: true, wasmPaths: '/elsewhere/' }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/wasmPaths \("\/elsewhere\/"\) comes too late/);
    expect(err.message).toMatch(/Pass wasmPaths to the first initBackend\(\) call/);
  });

  it('picks the binary tfjs picks, and its URL under a prefix or a map', () => {
    expect(wasmBinaryFor(false, false)).toBe('tfjs-backend-wasm.wasm');
    expect(wasmBinaryFor(false, true)).toBe('tfjs-backend-wasm.wasm');
    expect(wasmBinaryFor(true, false)).toBe('tfjs-backend-wasm-simd.wasm');
    expect(wasmBinaryFor(true, true)).toBe('tfjs-backend-wasm-threaded-simd.wasm');
    expect(wasmUrlOf('/w/', 'tfjs-backend-wasm-simd.wasm')).toBe('/w/tfjs-backend-wasm-simd.wasm');
    const map = normalizeWasmPaths(
      Object.fromEntries(WASM_BINARIES.map((n) => [n, `/m/${n}?v=1`])) as never,
    ).paths;
    expect(wasmUrlOf(map, 'tfjs-backend-wasm.wasm')).toBe('/m/tfjs-backend-wasm.wasm?v=1');
  });

  it('the failure message names the URL tried, where it came from, and the fix', () => {
    const m = wasmFailureMessage(
      'https://x/a/tfjs-backend-wasm-simd.wasm',
      'tfjs-backend-wasm-simd.wasm',
      'options.wasmPaths',
      'HTTP 404',
    );
    expect(m).toContain('could not load tfjs-backend-wasm-simd.wasm');
    expect(m).toContain('from https://x/a/tfjs-backend-wasm-simd.wasm (HTTP 404)');
    expect(m).toContain('that URL came from options.wasmPaths');
    expect(m).toContain('@dgm-js/core-tensors/dist/wasm/');
    expect(m).toContain("initBackend({ wasmPaths: '<URL of the directory that serves them>/' })");
  });

  it('the probe says what the server answered (404; an HTML page in place of the file)', async () => {
    expect(await probeWasmUrl(`${base}/wasm/tfjs-backend-wasm.wasm`)).toBe('HTTP 404');
    expect(await probeWasmUrl(`${base}/page.html`)).toMatch(
      /^HTTP 200, text\/html: .*did not compile/,
    );
    expect(await probeWasmUrl('/local/path.wasm')).toBeNull();
  });
});

/** Runs an ES module script with plain Node inside this package (self-reference: dist/). */
async function node(script: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', script],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, DGM_QUIET: '1' } },
  );
  return stdout.trim().split('\n').at(-1) ?? '';
}

// Fresh processes: tfjs loads its .wasm once per process, so each case needs its own.
describe('wasmPaths in a fresh process (built dist, plain Node)', () => {
  it('a wrong directory: the forced wasm backend fails with the exact path tried and the fix', async () => {
    const out = await node(`
      const { initBackend } = await import('@dgm-js/core-tensors');
      const e = await initBackend({ backend: 'wasm', quiet: true, wasmPaths: '/nonexistent/dir' })
        .then(() => null, (e) => e);
      console.log(JSON.stringify({ name: e?.name, message: e?.message }));`);
    const r = JSON.parse(out);
    expect(r.name).toBe('BackendError');
    // Node has wasm SIMD and (in tfjs) no wasm threads: the SIMD binary is the one tried.
    expect(r.message).toContain(
      'could not load tfjs-backend-wasm-simd.wasm from /nonexistent/dir/tfjs-backend-wasm-simd.wasm',
    );
    expect(r.message).toContain('that URL came from options.wasmPaths');
    expect(r.message).toContain('wasmPaths:');
  });

  it('a URL the server answers 404: automatic choice falls back to cpu, the summary says why', async () => {
    const out = await node(`
      const { initBackend } = await import('@dgm-js/core-tensors');
      const i = await initBackend({ quiet: true, wasmPaths: '${base}/missing/' });
      console.log(JSON.stringify(i));`);
    const r = JSON.parse(out);
    expect(r.name).toBe('cpu');
    expect(r.summary).toContain(
      `could not load tfjs-backend-wasm-simd.wasm from ${base}/missing/tfjs-backend-wasm-simd.wasm (HTTP 404)`,
    );
  });

  it("the copies shipped in dist/wasm/ load, given as wasmPaths (the browser default's files)", async () => {
    const out = await node(`
      const { initBackend, tf } = await import('@dgm-js/core-tensors');
      const dir = new URL('./dist/wasm/', 'file://' + process.cwd() + '/');
      const i = await initBackend({ backend: 'wasm', quiet: true, wasmPaths: dir });
      console.log(JSON.stringify({ name: i.name, y: tf.ones([2]).add(1).arraySync() }));`);
    expect(JSON.parse(out)).toEqual({ name: 'wasm', y: [2, 2] });
  });
});
