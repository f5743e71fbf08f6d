import {
  adam,
  Conv2d,
  Dense,
  initBackend,
  loadNativeKernels,
  nativeKernelsStatus,
  Rng,
  registerWasmKernels,
  restoreStockWasmKernels,
  sigmoidCrossEntropyWithLogits,
  tf,
  unloadNativeKernels,
  wasmKernelOverrides,
} from '@dgm-js/core-tensors';
import { runPeer, torchVersion } from '../peer.js';
import type { SuiteResult } from '../report.js';
import { peerLabel, RowTable } from '../rows.js';
import { medianMs, progress } from '../timing.js';
import { parallelRows } from './kernels-parallel.js';
import type { Suite } from './types.js';

interface PeerKernels {
  torch: string;
  threads: number;
  blas_core: string | null;
  gemm512: number;
  gemm512_tn: number;
  gemm512_nt: number;
  mlp_step_ms: number;
  conv_step_ms: number;
}

/**
 * Milliseconds of CPU time this process has used (user + system). For single-threaded work it is
 * the run time without the time other processes held the core: the kernels speed guard
 * (scripts/check-kernels.ts) times with it so that a loaded machine does not fail the check.
 */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Median of `iters` runs of `fn` (ms) on `clock` after `warmup` runs; wall time by default. */
async function medianOn(
  fn: () => void,
  warmup: number,
  iters: number,
  clock?: () => number,
): Promise<number> {
  if (!clock) return medianMs(fn, warmup, iters);
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = clock();
    fn();
    times.push(clock() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  return times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
}

/** GFLOP/s of a 512 x 512 x 512 product (median of `iters` after 3 warm-up runs). */
export function gemmGflops(
  ta: boolean,
  tb: boolean,
  iters: number,
  clock?: () => number,
): Promise<number> {
  const rng = new Rng(1);
  const a = tf.randomNormal([512, 512], 0, 1, 'float32', rng.next());
  const b = tf.randomNormal([512, 512], 0, 1, 'float32', rng.next());
  return medianOn(
    () => {
      // Kernels on the Node backends (wasm, tensorflow, cpu) run synchronously, so the product
      // is complete here. It is not read back: that copies 1 MB into a fresh JS buffer whose
      // first-touch page faults cost ~3-5 ms here, 2-4x the GEMM itself (the peer does not read
      // its result back either). Even a one-element tf.slice copies the whole input on wasm.
      tf.matMul(a, b, ta, tb).dispose();
    },
    3,
    iters,
    clock,
  ).then((ms) => {
    tf.dispose([a, b]);
    return (2 * 512 ** 3) / (ms * 1e6);
  });
}

/**
 * One Adam step of the 784-512-784 MLP with Bernoulli cross-entropy (batch 128), written as a
 * dgm.js user writes it: `Dense` layers, `sigmoidCrossEntropyWithLogits`, dgm.js's `adam` (`tfjsAdam`: tf.train.adam
 * instead, to see what the fused update buys).
 */
export function makeMlpStep(
  seed = 0,
  opts: { tfjsAdam?: boolean } = {},
): { step: () => number; dispose: () => void } {
  const rng = new Rng(seed);
  const l1 = new Dense(784, 512, { rng, activation: 'relu' });
  const l2 = new Dense(512, 784, { rng });
  const x = tf.tidy(() =>
    tf.cast(tf.less(tf.randomUniform([128, 784], 0, 1, 'float32', rng.next()), 0.5), 'float32'),
  );
  const opt = opts.tfjsAdam ? tf.train.adam(1e-3) : adam(1e-3);
  const step = () => {
    const loss = opt.minimize(() => {
      const logits = l2.apply(l1.apply(x));
      // Bernoulli cross-entropy with logits, mean over elements (PyTorch's BCEWithLogitsLoss)
      return sigmoidCrossEntropyWithLogits(x, logits, 'mean') as tf.Scalar;
    }, true) as tf.Scalar;
    const v = loss.dataSync()[0]!;
    loss.dispose();
    return v;
  };
  const dispose = () => {
    l1.dispose();
    l2.dispose();
    x.dispose();
    opt.dispose();
  };
  return { step, dispose };
}

/**
 * One Adam step of the small conv net (batch 64, 28x28x1, three 3x3x32 relu convs with 'same'
 * padding, dense to 10, softmax cross-entropy): `Conv2d` and `Dense` modules, dgm.js's `adam`.
 */
export function makeConvStep(seed = 0): { step: () => number; dispose: () => void } {
  const rng = new Rng(seed);
  const convs = [
    new Conv2d(1, 32, 3, { rng, activation: 'relu' }),
    new Conv2d(32, 32, 3, { rng, activation: 'relu' }),
    new Conv2d(32, 32, 3, { rng, activation: 'relu' }),
  ];
  const dense = new Dense(28 * 28 * 32, 10, { rng });
  const x = tf.randomUniform([64, 28, 28, 1], 0, 1, 'float32', rng.next());
  // One-hot labels built in JS (tf.oneHot of float32 is wrong on wasm).
  const labels = tf.tidy(() => tf.randomUniform([64], 0, 10, 'int32', rng.next()));
  const lv = labels.dataSync();
  labels.dispose();
  const oh = new Float32Array(640);
  for (let i = 0; i < 64; i++) oh[i * 10 + (lv[i] as number)] = 1;
  const y = tf.tensor2d(oh, [64, 10]);
  const opt = adam(1e-3);
  const step = () => {
    const loss = opt.minimize(() => {
      let h: tf.Tensor = x;
      for (const c of convs) h = c.apply(h);
      const logits = dense.apply(tf.reshape(h, [64, -1]));
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    }, true) as tf.Scalar;
    const v = loss.dataSync()[0]!;
    loss.dispose();
    return v;
  };
  return {
    step,
    dispose: () => {
      for (const c of convs) c.dispose();
      dense.dispose();
      tf.dispose([x, y]);
      opt.dispose();
    },
  };
}

/**
 * Median ms of a training step (`warmup` untimed steps first) on `clock` (wall time by default);
 * throws on a non-finite loss.
 */
export async function timeStep(
  make: () => { step: () => number; dispose: () => void },
  warmup: number,
  iters: number,
  clock?: () => number,
) {
  const m = make();
  try {
    let last = 0;
    const ms = await medianOn(
      () => {
        last = m.step();
      },
      warmup,
      iters,
      clock,
    );
    if (!Number.isFinite(last)) throw new Error('training step produced a non-finite loss');
    return ms;
  } finally {
    m.dispose();
  }
}

export const kernelsSuite: Suite = {
  name: 'kernels',
  description:
    'GEMM GFLOP/s, an MLP training step and a conv-net training step, beside PyTorch CPU',
  async run(profile): Promise<SuiteResult> {
    const info = await initBackend();
    const quick = profile === 'quick';
    const peerP = runPeer<PeerKernels>('torch_kernels.py', ['--profile', profile]).catch(
      (e: Error) => {
        progress(`peer failed: ${e.message}`);
        return null;
      },
    );
    // Run the peer first and alone, so the two never share the cores.
    progress(
      torchVersion()
        ? `PyTorch peer ${torchVersion()} running`
        : 'PyTorch peer absent (peer: null)',
    );
    const peer = await peerP;
    const results = new RowTable({ peer: peerLabel(peer), echo: 2 });
    const add = (
      name: string,
      value: number,
      unit: string,
      peerValue: number | undefined,
      note?: string,
    ) => results.add(name, value, unit, { peer: peerValue, note });

    const gIters = quick ? 10 : 30;
    const native = info.name === 'wasm' ? nativeKernelsStatus() : null;
    // The default rows run on what initBackend chose: native kernels when they loaded.
    const kernelsNote = native?.loaded ? `native kernels (${native.isa}, OpenBLAS)` : undefined;
    const addDefault = (name: string, value: number, unit: string, peerValue?: number) =>
      add(name, value, unit, peerValue, kernelsNote);
    addDefault('gemm-512', await gemmGflops(false, false, gIters), 'GFLOP/s', peer?.gemm512);
    addDefault('gemm-512-tn', await gemmGflops(true, false, gIters), 'GFLOP/s', peer?.gemm512_tn);
    addDefault('gemm-512-nt', await gemmGflops(false, true, gIters), 'GFLOP/s', peer?.gemm512_nt);
    addDefault(
      'mlp-step',
      await timeStep(makeMlpStep, 5, quick ? 20 : 100),
      'ms',
      peer?.mlp_step_ms,
    );
    addDefault(
      'conv-step',
      await timeStep(makeConvStep, 2, quick ? 5 : 30),
      'ms',
      peer?.conv_step_ms,
    );

    addDefault(
      'mlp-step-tfjs-adam',
      await timeStep(() => makeMlpStep(0, { tfjsAdam: true }), 5, quick ? 20 : 100),
      'ms',
      peer?.mlp_step_ms,
    );

    const notes = [
      'the steps are written with dgm.js modules (Dense, Conv2d) and its adam(), whose update is one native pass per variable; mlp-step-tfjs-adam is the MLP step with tf.train.adam (about a dozen full-size tfjs kernels per variable)',
      `backend: ${info.summary}`,
      `dgm.js kernels registered: ${wasmKernelOverrides().join(', ') || 'none'}`,
    ];
    if (native) {
      const over = native.loaded ? '; they supersede the TypeScript kernels listed above' : '';
      notes.push(`${native.summary}${over}; DGM_NATIVE=0 turns them off`);
    }
    if (native?.loaded) {
      const forced = process.env.DGM_NATIVE_ISA;
      const how = forced
        ? `forced by DGM_NATIVE_ISA=${forced}${forced === 'avx2' ? ', which also pins OpenBLAS to Haswell unless OPENBLAS_CORETYPE is set' : ''}`
        : 'the best this CPU supports; DGM_NATIVE_ISA=avx2|generic forces another';
      notes.push(`native instruction set: ${native.isa} (${how})`);
    }
    if (native?.loaded) {
      // The same workloads on dgm.js's TypeScript kernels (what runs without the addon).
      unloadNativeKernels();
      try {
        const ts = 'TypeScript kernels (native unloaded)';
        add(
          'gemm-512-ts-kernels',
          await gemmGflops(false, false, gIters),
          'GFLOP/s',
          peer?.gemm512,
          ts,
        );
        add(
          'mlp-step-ts-kernels',
          await timeStep(makeMlpStep, 5, quick ? 20 : 100),
          'ms',
          peer?.mlp_step_ms,
          ts,
        );
        add(
          'conv-step-ts-kernels',
          await timeStep(makeConvStep, 2, quick ? 5 : 30),
          'ms',
          peer?.conv_step_ms,
          ts,
        );
      } finally {
        await loadNativeKernels();
      }
      notes.push(
        'gemm-512 / mlp-step / conv-step ran on the native kernels; the *-ts-kernels rows are the same workloads on the TypeScript kernels that run when the addon or OpenBLAS is missing.',
      );
    }
    if (info.name === 'wasm') {
      // The same MLP step on the stock wasm kernels, to show what the overrides buy.
      unloadNativeKernels();
      restoreStockWasmKernels();
      try {
        add(
          'mlp-step-stock-wasm',
          await timeStep(makeMlpStep, 2, quick ? 5 : 20),
          'ms',
          peer?.mlp_step_ms,
        );
      } finally {
        registerWasmKernels();
        await loadNativeKernels();
      }
      notes.push(
        'mlp-step-stock-wasm: the same step with the wasm backend stock kernels (no dgm.js overrides); the stock wasm backend has no Conv2DBackpropFilter, so the conv step cannot train without the overrides.',
      );
    }
    // Data parallelism over worker threads (speed-up against our own one-process run).
    for (const row of await parallelRows(profile)) {
      results.rows.push(row);
      progress(`${row.name}: ${row.value.toFixed(2)} ${row.unit}`);
    }
    notes.push(
      'mlp-step-b{128,512}-* rows: the MLP step through the Trainer with its opt-in data parallelism over worker threads (each its own backend, gradients exchanged in shared memory); the *-speedup-* rows are against the one-process Trainer step in the same run (no peer)',
    );
    notes.push(
      peer
        ? `peer: PyTorch ${peer.torch} CPU, ${peer.threads} thread, OpenBLAS kernel ${peer.blas_core ?? 'unknown'}, run alone before ours (never concurrently)`
        : 'peer: PyTorch not found at /usr/bin/python3 (run apps/bench/scripts/install-peer.sh); peer columns are empty',
      'timings are medians over the timed iterations after warm-up; a step includes forward, backward, the Adam update and reading the loss',
    );
    return {
      suite: 'kernels',
      profile,
      backend: info.name,
      date: new Date().toISOString(),
      rows: results.rows,
      notes,
    };
  },
};
