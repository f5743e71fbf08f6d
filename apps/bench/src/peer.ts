import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PYTHON = process.env.DGM_PEER_PYTHON ?? '/usr/bin/python3';

/** Environment for the PyTorch peer: one thread, and glibc malloc settings that avoid page faults. */
const PEER_ENV = {
  OMP_NUM_THREADS: '1',
  OPENBLAS_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
  MALLOC_MMAP_THRESHOLD_: '1000000000',
  MALLOC_TRIM_THRESHOLD_: '4000000000',
};

let available: string | null | undefined;

/** The peer's torch version, or null when /usr/bin/python3 cannot import torch. */
export function torchVersion(): string | null {
  if (available !== undefined) return available;
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], {
    encoding: 'utf8',
  });
  available = r.status === 0 ? r.stdout.trim() : null;
  return available;
}

/**
 * Runs `apps/bench/peers/<script>` with the peer's Python and returns the JSON object it prints
 * on its last stdout line, or null when PyTorch is absent (the suite then writes `peer: null`).
 * The peer's stderr (progress lines) is passed through.
 */
export async function runPeer<T>(script: string, args: string[]): Promise<T | null> {
  if (!torchVersion()) return null;
  const path = fileURLToPath(new URL(`../peers/${script}`, import.meta.url));
  return new Promise((resolve, reject) => {
    // The peer gets its fastest correct configuration: the machine's OPENBLAS_CORETYPE /
    // OPENBLAS_L2_SIZE pins (set here for old OpenBLAS builds) are dropped for it, so OpenBLAS
    // picks its kernel for this CPU; the peer reports which one ran.
    const env: NodeJS.ProcessEnv = { ...process.env, ...PEER_ENV };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    const child = spawn(PYTHON, [path, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`peer ${script} exited with code ${code}`));
        return;
      }
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(
          new Error(`peer ${script} printed no JSON result (last line: ${last.slice(0, 200)})`),
        );
      }
    });
  });
}
