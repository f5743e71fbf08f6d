/**
 * GAN checkpoints: both players (parameters and buffers, e.g. spectral-norm vectors), both
 * optimizers' state, the callbacks' state (the generator EMA), the fixed noise and the loop's
 * state, in core-tensors' checkpoint format (`model.json` manifest + one weights file) written
 * through a `CheckpointStore` (atomic per checkpoint). Internal to the trainer.
 */
import {
  CheckpointError,
  decodeState,
  encodeState,
  fmtShape,
  type NamedTensors,
  parseManifest,
  StateMismatchError,
  type StateShapeMismatch,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** The manifest's file name (core-tensors' MANIFEST_FILE). */
export const MANIFEST = 'model.json';

/** tfjs's optimizer weight entry. */
interface NamedTensor {
  name: string;
  tensor: Tensor;
}

/** Scalars Adam keeps outside getWeights (saved so a resumed run is bit-identical). */
const OPTIMIZER_EXTRAS = ['accBeta1', 'accBeta2'] as const;

function optimizerExtras(opt: tf.Optimizer): [string, tf.Variable][] {
  const out: [string, tf.Variable][] = [];
  for (const k of OPTIMIZER_EXTRAS) {
    const v = (opt as unknown as Record<string, unknown>)[k];
    if (v instanceof tf.Variable) out.push([k, v]);
  }
  return out;
}

/** One optimizer's description in the metadata. */
export interface OptimizerMeta {
  className: string;
  count: number;
  extras: string[];
}

/** One history row: means over `steps` steps ending at `step`. */
export interface GanHistoryEntry {
  step: number;
  elapsedMs: number;
  steps: number;
  metrics: Record<string, number>;
}

/** The checkpoint's JSON metadata. */
export interface GanCheckpointMeta {
  kind: 'dgmjs-gan-checkpoint';
  version: 1;
  step: number;
  rngState: number;
  elapsedMs: number;
  loss: string;
  nCritic: number;
  optimizers: { generator: OptimizerMeta; critic: OptimizerMeta };
  callbacks: Record<string, { json?: unknown; tensors: string[] }>;
  history: GanHistoryEntry[];
  /** The partial history window at the checkpoint. */
  acc: { n: number; sums: Record<string, number> };
  hasFixedLabels: boolean;
  savedAt: string;
  metadata: Record<string, unknown>;
}

/** What a checkpoint is made from. */
export interface GanCheckpointParts {
  generator: [string, tf.Variable][];
  critic: [string, tf.Variable][];
  optimizers: { generator: tf.Optimizer; critic: tf.Optimizer };
  callbacks: Record<string, { json?: unknown; tensors?: Record<string, Tensor> }>;
  fixedNoise: Tensor;
  fixedLabels: Tensor | undefined;
  meta: Omit<
    GanCheckpointMeta,
    'optimizers' | 'callbacks' | 'kind' | 'version' | 'savedAt' | 'hasFixedLabels'
  >;
}

/** Encodes a checkpoint into files (manifest + weights). */
export async function encodeGanCheckpoint(
  p: GanCheckpointParts,
): Promise<Record<string, Uint8Array>> {
  const entries: [string, Tensor][] = [];
  for (const [n, v] of p.generator) entries.push([`generator/${n}`, v]);
  for (const [n, v] of p.critic) entries.push([`critic/${n}`, v]);
  const owned: Tensor[] = [];
  const optMeta = {} as GanCheckpointMeta['optimizers'];
  try {
    for (const who of ['generator', 'critic'] as const) {
      const opt = p.optimizers[who];
      const weights = (await opt.getWeights()) as NamedTensor[];
      for (const w of weights) if (!(w.tensor instanceof tf.Variable)) owned.push(w.tensor);
      weights.forEach((w, i) => {
        entries.push([`optimizer/${who}/${i}`, w.tensor]);
      });
      const extras = optimizerExtras(opt);
      for (const [k, v] of extras) entries.push([`optimizer-extra/${who}/${k}`, v]);
      optMeta[who] = {
        className: opt.getClassName(),
        count: weights.length,
        extras: extras.map(([k]) => k),
      };
    }
    const callbacks: GanCheckpointMeta['callbacks'] = {};
    for (const [name, s] of Object.entries(p.callbacks)) {
      const names = Object.keys(s.tensors ?? {});
      for (const k of names) entries.push([`callback/${name}/${k}`, s.tensors![k]!]);
      callbacks[name] = { ...(s.json === undefined ? {} : { json: s.json }), tensors: names };
    }
    entries.push(['fixed/noise', p.fixedNoise]);
    if (p.fixedLabels) entries.push(['fixed/labels', p.fixedLabels]);
    const meta: GanCheckpointMeta = {
      kind: 'dgmjs-gan-checkpoint',
      version: 1,
      ...p.meta,
      optimizers: optMeta,
      callbacks,
      hasFixedLabels: p.fixedLabels !== undefined,
      savedAt: new Date().toISOString(),
    };
    const { manifest, data } = await encodeState(
      entries,
      meta as unknown as Record<string, unknown>,
    );
    return {
      [MANIFEST]: new TextEncoder().encode(JSON.stringify(manifest)),
      [manifest.weightsManifest[0].paths[0]]: data,
    };
  } finally {
    tf.dispose(owned);
  }
}

/** A decoded checkpoint: its tensors (the caller disposes them) and metadata. */
export interface DecodedGanCheckpoint {
  tensors: NamedTensors;
  meta: GanCheckpointMeta;
}

/** Decodes checkpoint files, checking the format. */
export function decodeGanCheckpoint(
  files: Record<string, Uint8Array>,
  source: string,
): DecodedGanCheckpoint {
  const mBytes = files[MANIFEST];
  if (!mBytes) throw new CheckpointError(`${source}: no ${MANIFEST}; not a checkpoint.`, source);
  const manifest = parseManifest(mBytes, `${source}/${MANIFEST}`);
  const binName = manifest.weightsManifest[0].paths[0];
  const data = files[binName];
  if (!data)
    throw new CheckpointError(`${source}/${binName}: the weights file is missing.`, source);
  const { tensors, metadata } = decodeState(manifest, data, source);
  const meta = metadata as unknown as GanCheckpointMeta;
  if (meta.kind !== 'dgmjs-gan-checkpoint' || meta.version !== 1) {
    tf.dispose(Object.values(tensors));
    throw new CheckpointError(
      `${source}: not a GAN checkpoint (metadata.kind is ${JSON.stringify(meta.kind)}); Trainer checkpoints load with the Trainer, plain states with loadModule.`,
      source,
    );
  }
  return { tensors, meta };
}

/** Checks every name and shape of one player's state against the checkpoint (assigns nothing). */
export function checkPlayer(
  own: [string, tf.Variable][],
  tensors: NamedTensors,
  prefix: string,
  source: string,
): void {
  const missing: string[] = [];
  const wrong: StateShapeMismatch[] = [];
  for (const [n, v] of own) {
    const t = tensors[`${prefix}/${n}`];
    if (!t) missing.push(n);
    else if (t.shape.join() !== v.shape.join() || t.dtype !== v.dtype) {
      wrong.push({
        name: n,
        expected: [...v.shape],
        got: [...t.shape],
        expectedDtype: v.dtype,
        gotDtype: t.dtype,
      });
    }
  }
  const ownNames = new Set(own.map(([n]) => n));
  const unexpected = Object.keys(tensors)
    .filter((k) => k.startsWith(`${prefix}/`))
    .map((k) => k.slice(prefix.length + 1))
    .filter((n) => !ownNames.has(n));
  if (missing.length || unexpected.length || wrong.length) {
    throw new StateMismatchError(
      `GanTrainer: checkpoint ${source}, ${prefix}`,
      missing,
      unexpected,
      wrong,
      'It was written for a different model: resume with the same generator and critic, or start a fresh run elsewhere.',
    );
  }
}

/** Checks an optimizer's saved state against the optimizer (assigns nothing). */
export function checkOptimizer(
  opt: tf.Optimizer,
  meta: OptimizerMeta,
  tensors: NamedTensors,
  who: string,
  source: string,
): void {
  if (meta.className !== opt.getClassName()) {
    throw new ValueError(
      `GanTrainer: checkpoint ${source} holds ${meta.className} state for the ${who}, but its optimizer is ${opt.getClassName()}; resume with the same optimizer type.`,
    );
  }
  for (let i = 0; i < meta.count; i++) {
    if (!tensors[`optimizer/${who}/${i}`]) {
      throw new CheckpointError(`${source}: the ${who} optimizer's slot ${i} is missing.`, source);
    }
  }
  const extras = optimizerExtras(opt);
  for (const k of meta.extras) {
    const t = tensors[`optimizer-extra/${who}/${k}`];
    const v = extras.find(([n]) => n === k)?.[1];
    if (!t || !v || t.shape.join() !== v.shape.join()) {
      throw new CheckpointError(
        `${source}: the ${who} optimizer's scalar '${k}' is missing or does not fit.`,
        source,
      );
    }
  }
}

/** Restores an optimizer's state (after {@link checkOptimizer}). */
export async function restoreOptimizer(
  opt: tf.Optimizer,
  meta: OptimizerMeta,
  tensors: NamedTensors,
  who: string,
): Promise<void> {
  const list: NamedTensor[] = [];
  for (let i = 0; i < meta.count; i++)
    list.push({ name: String(i), tensor: tensors[`optimizer/${who}/${i}`]! });
  if (list.length > 0) {
    const old = (await opt.getWeights()) as NamedTensor[];
    await opt.setWeights(list);
    tf.dispose(old.map((w) => w.tensor));
  }
  const extras = optimizerExtras(opt);
  for (const k of meta.extras)
    extras.find(([n]) => n === k)![1].assign(tensors[`optimizer-extra/${who}/${k}`]!);
}

/** A tensor of the checkpoint that must be there, with the expected shape. */
export function required(
  tensors: NamedTensors,
  name: string,
  shape: readonly number[],
  source: string,
): Tensor {
  const t = tensors[name];
  if (!t || t.shape.join() !== shape.join()) {
    throw new CheckpointError(
      `${source}: '${name}' is ${t ? `of shape ${fmtShape(t.shape)}` : 'missing'}, expected ${fmtShape(shape)}.`,
      source,
    );
  }
  return t;
}
