/**
 * What a Trainer checkpoint holds and how it is put back: the model's parameters and buffers,
 * the optimizer's state, every callback's state (JSON and tensors) and the loop's position, in
 * one `model.json` + weights file (see `nn/serialize`). Nothing non-finite is ever written, and
 * on restore everything is checked before anything is assigned.
 */
import { ValueError } from '../errors.js';
import { type NamedTensors, StateMismatchError, type StateShapeMismatch } from '../nn/module.js';
import {
  CheckpointError,
  checkMetadataCrc,
  decodeState,
  encodeState,
  MANIFEST_FILE,
  parseManifest,
} from '../nn/serialize.js';
import { tf } from '../tf.js';
import type { CallbackState, TrainerHandle } from './callback.js';
import { type CheckpointMeta, validateCheckpointMeta } from './checkpoint-meta.js';
import { type NonFiniteComponent, NonFiniteError } from './errors.js';
import { nonFiniteNames } from './step.js';
import { listNames, type NamedTensor, optimizerExtras } from './variables.js';

/** A checkpoint's files, and why the optimizer state is missing from it (when it is). */
export interface EncodedCheckpoint {
  files: Record<string, Uint8Array>;
  optimizerError: string | undefined;
}

/** Throws a NonFiniteError when `named` has a NaN/Inf: such state is never written. */
function refuseNonFinite(
  t: TrainerHandle,
  named: readonly (readonly [string, tf.Tensor])[],
  component: NonFiniteComponent,
  lastCheckpoint: string | undefined,
): void {
  const bad = nonFiniteNames(named);
  if (bad.length === 0) return;
  throw new NonFiniteError(
    `Trainer: step ${t.step}: NaN or Inf in the ${component} (${listNames(bad)}); the checkpoint was not written. ${lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint} (kept).` : 'No checkpoint had been written.'}`,
    {
      step: t.step,
      loss: Number.NaN,
      badGradients: [],
      badMetrics: [],
      lastCheckpoint,
      component,
      badState: bad,
    },
  );
}

/**
 * Encodes the run's whole state. Throws a {@link NonFiniteError} (and writes nothing) when the
 * model's parameters or buffers, the optimizer's state or a callback's tensors are not finite.
 */
export async function encodeCheckpoint(
  t: TrainerHandle,
  reason: string,
  metadata: Record<string, unknown>,
  lastCheckpoint: string | undefined,
): Promise<EncodedCheckpoint> {
  const byVarName = new Map(t.params.map(([n, v]) => [v.name, n]));
  let optWeights: NamedTensor[] = [];
  let optimizerError: string | undefined;
  // tensors callbacks made for this checkpoint only (CallbackState.owned)
  const owned: tf.Tensor[] = [];
  try {
    optWeights = await t.optimizer.getWeights();
  } catch (e) {
    optimizerError = e instanceof Error ? e.message : String(e);
  }
  try {
    const model = [...t.params, ...t.buffers];
    refuseNonFinite(t, model, 'model parameters', lastCheckpoint);
    const entries: [string, tf.Tensor][] = model.map(([n, v]) => [`model/${n}`, v]);
    const names = optWeights.map((w) => {
      const slash = w.name.lastIndexOf('/');
      const owner = slash > 0 ? byVarName.get(w.name.slice(0, slash)) : undefined;
      return owner ? `${owner}${w.name.slice(slash)}` : w.name;
    });
    refuseNonFinite(
      t,
      optWeights.map((w, i) => [names[i]!, w.tensor] as const),
      'optimizer state',
      lastCheckpoint,
    );
    optWeights.forEach((w, i) => {
      entries.push([`optimizer/${i}`, w.tensor]);
    });
    // Scalars some optimizers keep outside getWeights (Adam's running beta powers): setWeights
    // recomputes them as pow(beta, t), which differs from the running product in the last
    // bit; saving them makes a resumed run bit-identical.
    const extras = optimizerError === undefined ? optimizerExtras(t.optimizer) : [];
    for (const [k, v] of extras) entries.push([`optimizer-extra/${k}`, v]);
    const callbacks: Record<string, unknown> = {};
    const callbackTensors: Record<string, string[]> = {};
    for (const c of t.callbacks) {
      const s: CallbackState | undefined = await c.saveState?.(t);
      if (!s) continue;
      if (s.owned) owned.push(...Object.values(s.tensors ?? {}));
      if (s.json !== undefined) callbacks[c.name] = s.json;
      const ts = Object.entries(s.tensors ?? {});
      if (ts.length === 0) continue;
      refuseNonFinite(
        t,
        ts.map(([k, x]) => [`${c.name}.${k}`, x] as const),
        c.stateComponent ?? 'callback state',
        lastCheckpoint,
      );
      callbackTensors[c.name] = ts.map(([k]) => k);
      for (const [k, x] of ts) entries.push([`callback/${c.name}/${k}`, x]);
    }
    const loop = t.loopState();
    const meta: CheckpointMeta = {
      kind: 'dgmjs-trainer-checkpoint',
      version: 1,
      ...loop,
      elapsedMs: Math.round(loop.elapsedMs),
      optimizer: {
        className: t.optimizer.getClassName(),
        saved: optimizerError === undefined,
        count: optWeights.length,
        names,
        extras: extras.map(([k]) => k),
      },
      callbacks,
      callbackTensors,
      reason,
      savedAt: new Date().toISOString(),
      metadata,
    };
    const { manifest, data } = await encodeState(
      entries,
      meta as unknown as Record<string, unknown>,
    );
    return {
      files: {
        [MANIFEST_FILE]: new TextEncoder().encode(JSON.stringify(manifest)),
        [manifest.weightsManifest[0].paths[0]]: data,
      },
      optimizerError,
    };
  } finally {
    // getWeights returns the optimizer's own slot variables plus a fresh 'iter' scalar.
    for (const w of optWeights) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
    tf.dispose(owned);
  }
}

/** A decoded checkpoint: validated metadata and its tensors (the caller disposes them). */
export interface DecodedCheckpoint {
  meta: CheckpointMeta;
  tensors: NamedTensors;
  /** Whether the metadata was checked against its CRC-32 (false: written before it had one). */
  metadataChecked: boolean;
}

/** Reads and validates checkpoint files (a {@link CheckpointError} when they are not usable). */
export function decodeCheckpoint(
  files: Record<string, Uint8Array>,
  source: string,
): DecodedCheckpoint {
  const mBytes = files[MANIFEST_FILE];
  if (!mBytes)
    throw new CheckpointError(`${source}: no ${MANIFEST_FILE}; not a checkpoint.`, source);
  const manifest = parseManifest(mBytes, `${source}/${MANIFEST_FILE}`);
  const binName = manifest.weightsManifest[0].paths[0];
  const data = files[binName];
  if (!data)
    throw new CheckpointError(`${source}/${binName}: the weights file is missing.`, source);
  const { tensors, metadata } = decodeState(manifest, data, source, { checkMetadata: false });
  try {
    const kind = (metadata as { kind?: unknown } | undefined)?.kind;
    if (kind !== 'dgmjs-trainer-checkpoint') {
      throw new CheckpointError(
        `${source}: not a Trainer checkpoint (metadata.kind is ${JSON.stringify(kind)}); load plain saved states with loadModule.`,
        source,
      );
    }
    // the schema first (a wrong type is named as such), then the CRC (a plausible edit)
    const meta = validateCheckpointMeta(metadata, source);
    const metadataChecked = checkMetadataCrc(manifest, source);
    return { meta, tensors, metadataChecked };
  } catch (e) {
    for (const x of Object.values(tensors)) x.dispose();
    throw e;
  }
}

/**
 * Puts a decoded checkpoint back: model, optimizer, the callbacks' state and (for 'resume') the
 * loop's position. Everything the Trainer owns is checked before anything is assigned.
 */
export async function applyCheckpoint(
  t: TrainerHandle,
  { meta, tensors }: DecodedCheckpoint,
  source: string,
  mode: 'resume' | 'rollback',
): Promise<{ optimizerSaved: boolean }> {
  const model = new Map<string, tf.Tensor>();
  for (const [n, x] of Object.entries(tensors))
    if (n.startsWith('model/')) model.set(n.slice(6), x);
  const own = [...t.params, ...t.buffers];
  const ownNames = new Set(own.map(([n]) => n));
  const missing: string[] = [];
  const wrong: StateShapeMismatch[] = [];
  for (const [n, v] of own) {
    const x = model.get(n);
    if (!x) missing.push(n);
    else if (x.shape.join() !== v.shape.join() || x.dtype !== v.dtype) {
      wrong.push({
        name: n,
        expected: [...v.shape],
        got: [...x.shape],
        expectedDtype: v.dtype,
        gotDtype: x.dtype,
      });
    }
  }
  const unexpected = [...model.keys()].filter((n) => !ownNames.has(n));
  if (missing.length || unexpected.length || wrong.length) {
    throw new StateMismatchError(
      `Trainer: checkpoint ${source}`,
      missing,
      unexpected,
      wrong,
      'It was written for a different model: resume with the same model, or start a fresh run in another directory.',
    );
  }
  const className = t.optimizer.getClassName();
  if (meta.optimizer.className !== className) {
    throw new ValueError(
      `Trainer: checkpoint ${source} holds ${meta.optimizer.className} optimizer state, but the optimizer is ${className}; resume with the same optimizer type.`,
    );
  }
  const optList: NamedTensor[] = [];
  for (let i = 0; i < meta.optimizer.count; i++) {
    const x = tensors[`optimizer/${i}`];
    if (!x) throw new CheckpointError(`${source}: optimizer slot ${i} is missing.`, source);
    optList.push({ name: meta.optimizer.names[i] ?? String(i), tensor: x });
  }
  const extras = optimizerExtras(t.optimizer);
  for (const k of meta.optimizer.extras) {
    const x = tensors[`optimizer-extra/${k}`];
    const v = extras.find(([n]) => n === k)?.[1];
    if (!x || !v || x.shape.join() !== v.shape.join()) {
      throw new CheckpointError(
        `${source}: optimizer scalar '${k}' is missing or does not fit.`,
        source,
      );
    }
  }
  const states = new Map<string, CallbackState>();
  for (const c of t.callbacks) {
    const json = meta.callbacks[c.name];
    const keys = meta.callbackTensors[c.name] ?? [];
    if (json === undefined && keys.length === 0) continue;
    const ts: Record<string, tf.Tensor> = {};
    for (const k of keys) {
      const x = tensors[`callback/${c.name}/${k}`];
      if (!x) {
        throw new CheckpointError(
          `${source}: callback '${c.name}' tensor '${k}' is missing.`,
          source,
        );
      }
      ts[k] = x;
    }
    states.set(c.name, {
      ...(json !== undefined ? { json } : {}),
      ...(keys.length ? { tensors: ts } : {}),
    });
  }
  for (const [n, v] of own) v.assign(model.get(n)!);
  if (optList.length > 0) {
    const old = await t.optimizer.getWeights();
    await t.optimizer.setWeights(optList);
    for (const w of old) w.tensor.dispose();
  }
  for (const k of meta.optimizer.extras) {
    extras.find(([n]) => n === k)![1].assign(tensors[`optimizer-extra/${k}`]!);
  }
  if (mode === 'resume') {
    t.setLoopState({
      step: meta.step,
      epoch: meta.epoch,
      batchInEpoch: meta.batchInEpoch,
      seed: meta.seed,
      rngState: meta.rngState,
      elapsedMs: meta.elapsedMs,
      skippedSteps: meta.skippedSteps,
      history: meta.history,
      acc: meta.acc,
    });
  }
  for (const c of t.callbacks) {
    const s = states.get(c.name);
    if (s) await c.loadState?.(t, s, mode);
  }
  return { optimizerSaved: meta.optimizer.saved };
}
