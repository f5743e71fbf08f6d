/**
 * The built `dgm` run as a subprocess (dist/bin.js, built by vitest.global-setup.ts): help of
 * every command; train, SIGKILL mid-run, --resume, and the parameters and log equal to an
 * uninterrupted run's; eval's numbers checked against the same model evaluated in this process;
 * a PNG grid decoded byte by byte; bad flags and missing files as one line and a non-zero exit.
 * Small MNIST subsets, tiny networks and few steps keep the file to a few CPU seconds.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { Rng, tf } from '@dgm-js/core-tensors';
import { loadModule, loadState } from '@dgm-js/core-tensors/nn';
import { getBatch, loadBinarizedMnist } from '@dgm-js/datasets';
import { evaluateElbo } from '@dgm-js/eval';
import { GaussianVAE } from '@dgm-js/vae';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBenchRoot } from './bench.js';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const ENV = { ...process.env, DGM_QUIET: '1' };
let dir = '';

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (asynchronously: the test worker stays responsive meanwhile). */
function dgm(args: string[], cwd = dir): Promise<Out> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: ENV });
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

/** A tiny Gaussian VAE run: 256 training digits, batch 16, one 16-unit hidden layer. */
const VAE_FLAGS = [
  '--data',
  'mnist',
  '--train-size',
  '256',
  '--batch-size',
  '16',
  '--hidden',
  '16',
  '--latent-dim',
  '4',
  '--checkpoint-every',
  '5',
  '--seed',
  '3',
];
const STEPS = 150;

function checkpointSteps(run: string): number[] {
  const d = join(dir, run, 'checkpoints');
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .map((n) => /^step-(\d+)$/.exec(n)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number);
}

async function namedTensors(ckpt: string, prefix: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await loadState(ckpt);
  const out = new Map<string, Float32Array>();
  for (const [n, t] of Object.entries(tensors)) {
    if (n.startsWith(prefix)) out.set(n, t.dataSync() as Float32Array);
    t.dispose();
  }
  return out;
}

const modelTensors = (ckpt: string) => namedTensors(ckpt, 'model/');

function trainLog(run: string): { step: number; loss?: number }[] {
  return readFileSync(join(dir, run, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { type: string; step: number; loss: number })
    .filter((r) => r.type === 'train');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dgm-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('--help', () => {
  it.each([
    [[], ['Usage: dgm', 'train', 'eval', 'sample', 'bench', 'Examples']],
    [
      ['train'],
      [
        'Usage: dgm train',
        '--steps',
        '--resume',
        '--progress',
        'gaussian-vae',
        'realnvp',
        'mlp-gan',
      ],
    ],
    [['eval'], ['Usage: dgm eval', '--metrics', 'elbo', 'iwae', 'fid', 'eval.jsonl']],
    [['sample'], ['Usage: dgm sample', '--png', '-n, --n']],
    [['bench'], ['Usage: dgm bench', 'apps/bench']],
  ])('dgm %j --help', async (cmd, words) => {
    const r = await dgm([...cmd, '--help']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    for (const w of words) expect(r.stdout).toContain(w);
  });
});

describe('train, kill, resume', () => {
  it('a run SIGKILLed mid-run and resumed ends with the parameters and log of an uninterrupted run', async () => {
    const full = await dgm([
      'train',
      'gaussian-vae',
      ...VAE_FLAGS,
      '--steps',
      String(STEPS),
      '--out',
      'full',
    ]);
    expect(full.stderr).toBe(''); // not a TTY, no --progress: no progress output
    expect(full.status).toBe(0);
    expect(full.stdout).toMatch(new RegExp(`gaussian-vae: step ${STEPS} in`));

    const child: ChildProcess = spawn(
      process.execPath,
      [BIN, 'train', 'gaussian-vae', ...VAE_FLAGS, '--steps', String(STEPS), '--out', 'killed'],
      { cwd: dir, env: ENV, stdio: 'ignore' },
    );
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_c, s) => res(s)));
    const t0 = Date.now();
    while (!checkpointSteps('killed').some((s) => s >= 10) && Date.now() - t0 < 30_000) {
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL'); // killed, not finished
    const at = Math.max(...checkpointSteps('killed'));
    expect(at).toBeGreaterThanOrEqual(10);
    expect(at).toBeLessThan(STEPS);

    const resumed = await dgm(['train', '--out', 'killed', '--resume']);
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toContain(`step ${STEPS} (resumed from`);

    const name = `step-${String(STEPS).padStart(8, '0')}`;
    const a = await modelTensors(join(dir, 'full', 'checkpoints', name));
    const b = await modelTensors(join(dir, 'killed', 'checkpoints', name));
    expect(a.size).toBeGreaterThanOrEqual(4); // encoder and decoder weights and biases
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [n, v] of a) expect(Array.from(b.get(n)!), n).toEqual(Array.from(v)); // bit-exact

    // the JSONL log reads as one run: every step once, the same losses
    const la = trainLog('full');
    const lb = trainLog('killed');
    expect(la.map((r) => r.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(lb.map((r) => r.step)).toEqual(la.map((r) => r.step));
    expect(lb.map((r) => r.loss)).toEqual(la.map((r) => r.loss));
    const cfg = JSON.parse(readFileSync(join(dir, 'killed', 'run.json'), 'utf8'));
    expect(cfg).toMatchObject({
      format: 'dgm-run',
      model: 'gaussian-vae',
      options: { hidden: [16], latentDim: 4 },
      data: { name: 'mnist', trainSize: 256, batchSize: 16 },
      train: { steps: STEPS, seed: 3, checkpointEvery: 5 },
    });
  });

  it('--progress prints rate and ETA on stderr when it is not a terminal', async () => {
    const r = await dgm([
      'train',
      'gaussian-vae',
      ...VAE_FLAGS,
      '--steps',
      '4',
      '--out',
      'progress',
      '--progress',
    ]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/step 4\/4 .*steps\/s .*ex\/s \| ETA \d+:\d\d/);
  });
});

describe('resume of the estimator state and of the GAN', () => {
  it.each([
    ['categorical-vae', ['--latents', '3', '--categories', '4']],
    ['mlp-gan', ['--latent-dim', '4']],
  ])('%s: 4 steps, then resumed to 8, equals 8 steps in one go', async (model, extra) => {
    const flags = [
      '--train-size',
      '64',
      '--batch-size',
      '16',
      '--hidden',
      '8',
      ...extra,
      '--checkpoint-every',
      '4',
    ];
    const one = await dgm(['train', model, ...flags, '--steps', '8', '--out', `${model}-one`]);
    expect(one.status).toBe(0);
    const first = await dgm(['train', model, ...flags, '--steps', '4', '--out', `${model}-two`]);
    expect(first.status).toBe(0);
    const second = await dgm(['train', '--out', `${model}-two`, '--resume', '--steps', '8']);
    expect(second.stderr).toBe('');
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('step 8 (resumed from');
    const ckpt = (run: string) => join(dir, run, 'checkpoints', 'step-00000008');
    const prefix = model === 'mlp-gan' ? 'generator/' : 'model/';
    const a = await namedTensors(ckpt(`${model}-one`), prefix);
    const b = await namedTensors(ckpt(`${model}-two`), prefix);
    expect(a.size).toBeGreaterThan(0);
    for (const [n, v] of a) expect(Array.from(b.get(n)!), n).toEqual(Array.from(v));
    const steps = (run: string) => trainLog(run).map((r) => r.step);
    expect(steps(`${model}-two`)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const rows = (run: string) => trainLog(run).map((r) => ({ ...r, elapsedMs: undefined })); // all but the clock
    expect(rows(`${model}-two`)).toEqual(rows(`${model}-one`));
  });
});

describe('eval', () => {
  it('prints finite ELBO, IWAE and FID, equal to the same checkpoint evaluated in this process', async () => {
    const r = await dgm([
      'eval',
      'full',
      '--metrics',
      'elbo,iwae,fid',
      '-n',
      '100',
      '-k',
      '10',
      '--fid-samples',
      '100',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      step: number;
      metrics: { metric: string; value: number; stderr?: number; n: number }[];
    };
    expect(out.step).toBe(STEPS);
    expect(out.metrics.map((m) => m.metric)).toEqual(['elbo', 'iwae', 'fid']);
    for (const m of out.metrics) expect(Number.isFinite(m.value), m.metric).toBe(true);
    const [elbo, iwae, fid] = out.metrics as [
      (typeof out.metrics)[0],
      (typeof out.metrics)[0],
      (typeof out.metrics)[0],
    ];
    expect(elbo.n).toBe(100);
    expect(elbo.stderr! > 0 && Number.isFinite(elbo.stderr)).toBe(true);
    expect(elbo.value).toBeLessThan(0); // a log-likelihood bound of binary images, in nats
    expect(iwae.value).toBeGreaterThan(elbo.value - 3 * elbo.stderr!); // IWAE_k >= ELBO
    expect(fid.value).toBeGreaterThan(0);

    // independent of the CLI's rebuild: the model from its options, the checkpoint, the test digits
    const cfg = JSON.parse(readFileSync(join(dir, 'full', 'run.json'), 'utf8'));
    const vae = GaussianVAE.mlp({
      inputDim: 784,
      hidden: cfg.options.hidden,
      latentDim: cfg.options.latentDim,
      rng: new Rng(0),
    });
    const ckpt = join(dir, 'full', 'checkpoints', `step-${String(STEPS).padStart(8, '0')}`);
    await loadModule(vae, ckpt, { prefix: 'model/' });
    const mnist = await loadBinarizedMnist({ binarization: 'fixed', seed: 0, flat: true });
    const x = getBatch(
      mnist.test,
      Int32Array.from({ length: 100 }, (_, i) => i),
      { fields: ['x'] },
    ).x;
    const mine = await evaluateElbo(vae, x, { seed: 0 });
    expect(elbo.value).toBeCloseTo(mine.mean, 2);
    tf.dispose(x);
    vae.dispose();

    const lines = readFileSync(join(dir, 'full', 'eval.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(lines.map((l) => JSON.parse(l).metric)).toEqual(['elbo', 'iwae', 'fid']);

    const text = await dgm(['eval', 'full', '--metrics', 'elbo', '-n', '50']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^elbo {2}-\d+\.\d{4} ± \d+\.\d{4} nats \(n=50\)$/m);
  });

  it('a RealNVP run: finite NLL, and bits/dim consistent with it', async () => {
    const t = await dgm([
      'train',
      'realnvp',
      '--train-size',
      '128',
      '--batch-size',
      '32',
      '--hidden',
      '16',
      '--couplings',
      '2',
      '--steps',
      '6',
      '--out',
      'flow',
    ]);
    expect(t.status).toBe(0);
    const r = await dgm(['eval', 'flow', '--metrics', 'nll,bpd', '-n', '64', '--json']);
    expect(r.status).toBe(0);
    const [nll, bpd] = (JSON.parse(r.stdout) as { metrics: { value: number }[] }).metrics as [
      { value: number },
      { value: number },
    ];
    expect(Number.isFinite(nll.value) && Number.isFinite(bpd.value)).toBe(true);
    // bits/dim of 8-bit data from a density on [0, 1)^784: (nll + 784 ln 256) / (784 ln 2)
    expect(bpd.value).toBeCloseTo((nll.value + 784 * Math.log(256)) / (784 * Math.LN2), 6);
    expect(bpd.value).toBeGreaterThan(0);
    expect(bpd.value).toBeLessThan(8 + 1); // a model barely trained, not worse than ~uniform
  });
});

describe('sample', () => {
  it('writes a valid PNG grid of 64 digits (signature, header, decoded pixel rows)', async () => {
    const r = await dgm(['sample', 'full', '-n', '64', '--png', 'out/grid.png']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('wrote out/grid.png: 64 samples');
    const png = readFileSync(join(dir, 'out/grid.png'));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.toString('latin1', 12, 16)).toBe('IHDR');
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    expect([width, height]).toEqual([8 * 28 + 9, 8 * 28 + 9]); // 8 x 8 tiles, 1-pixel padding
    expect([png[24], png[25]]).toEqual([8, 0]); // 8-bit grayscale
    // concatenate the IDAT chunks and inflate: one filter byte + width pixels per row
    const idat: Buffer[] = [];
    for (let off = 8; off < png.length; ) {
      const len = png.readUInt32BE(off);
      const type = png.toString('latin1', off + 4, off + 8);
      if (type === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
      off += 12 + len;
    }
    const raw = inflateSync(Buffer.concat(idat));
    expect(raw.length).toBe(height * (1 + width));
  });
});

describe('errors: one clear line and a non-zero exit', () => {
  beforeAll(() => writeFileSync(join(dir, 'not-a-run.txt'), 'x'));
  it.each([
    [['train', 'gaussian-vae', '--steps', 'abc', '--out', 'e1'], '--steps'],
    [['train', 'gaussian-vae', '--steps', '0', '--out', 'e1'], '--steps'],
    [['train', 'gaussian-vae', '--out', 'e1'], '--steps'],
    [['train', 'gaussian-vae', '--steps', '5'], '--out'],
    [['train', 'no-such-model', '--steps', '5', '--out', 'e1'], '<model>'],
    [['train', 'gaussian-vae', '--steps', '5', '--out', 'e1', '--no-such-flag'], '--no-such-flag'],
    [['train', 'gaussian-vae', '--steps', '5', '--out', 'e1', '--categories', '4'], '--categories'],
    [['train', 'gaussian-vae', '--steps', '5', '--out', 'e1', '--data', 'cifar'], '--data'],
    [['train', 'gaussian-vae', '--steps', '5', '--out', 'e1', '--hidden', '16,x'], '--hidden'],
    [['train', 'gaussian-vae', '--steps', '5', '--out', 'e1', '--lr', '-1'], '--lr'],
    [
      ['train', 'bernoulli-vae', '--steps', '5', '--out', 'e1', '--estimator', 'magic'],
      '--estimator',
    ],
    [
      ['train', 'gaussian-vae', '--steps', '5', '--out', 'e1', '--train-size', '70000'],
      '--train-size',
    ],
    [['train', 'gaussian-vae', '--steps', '5', '--out', 'full'], '--out'],
    [['train', '--out', 'no-such-run', '--resume'], '--resume'],
    [['train', '--out', 'full', '--resume', '--hidden', '32'], '--hidden'],
    [['train', 'realnvp', '--out', 'full', '--resume'], '<model>'],
    [['train', '--out', 'full', '--resume', '--steps', '3'], '--steps'],
    [['eval', 'no-such-dir'], 'no-such-dir'],
    [['eval', 'not-a-run.txt'], 'not-a-run.txt'],
    [['eval', 'out'], 'run.json'],
    [['eval', 'full', '--metrics', 'nll'], '--metrics'],
    [['eval', 'full', '--metrics', 'elbo,zzz'], '--metrics'],
    [['eval', 'full', '-n', '20000'], '-n'],
    [['sample', 'full', '-n', '4'], '--png'],
    [['sample', 'full', '-n', 'lots', '--png', 'x.png'], '-n'],
    [['sample', 'no-such-dir', '--png', 'x.png'], 'no-such-dir'],
    [['sample', 'not-a-run.txt', '--png', 'x.png'], 'run.json'],
    [['no-such-command'], 'no-such-command'],
  ])('dgm %j names %s', async (args, flag) => {
    const r = await dgm(args);
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBe(null);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^dgm( \w+)?: error: /);
    expect(lines[0]).toContain(flag);
    expect(existsSync(join(dir, 'e1'))).toBe(false); // a refused train creates nothing
  });

  it('a run without checkpoints is refused by eval and sample', async () => {
    const run = join(dir, 'nockpt');
    rmSync(run, { recursive: true, force: true });
    const cfg = JSON.parse(readFileSync(join(dir, 'full', 'run.json'), 'utf8'));
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'run.json'), JSON.stringify(cfg));
    for (const args of [
      ['eval', 'nockpt'],
      ['sample', 'nockpt', '--png', 'x.png'],
    ]) {
      const r = await dgm(args);
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('no checkpoint yet');
    }
  });
});

describe('bench', () => {
  it('finds apps/bench in this repository, and nothing above the file system root', () => {
    expect(findBenchRoot(fileURLToPath(new URL('.', import.meta.url)))).toBeDefined();
    expect(findBenchRoot('/')).toBeUndefined();
  });
});
