/**
 * The metadata of a Trainer checkpoint (stored in its `model.json`) and its validation: every
 * field is checked for type and range before anything uses it, so an edited or damaged file
 * gives a {@link CheckpointMetadataError} naming the field instead of, say, a step counter that
 * is a string and a loop that never ends.
 */
import { CheckpointMetadataError } from './errors.js';
import type { Accumulator, BestMetric, HistoryEntry, ValidationEntry } from './types.js';
import { OPTIMIZER_EXTRAS } from './variables.js';

/** What a checkpoint's manifest metadata holds. */
export interface CheckpointMeta {
  kind: 'dgmjs-trainer-checkpoint';
  version: 1;
  step: number;
  epoch: number;
  batchInEpoch: number;
  seed: number;
  rngState: number;
  elapsedMs: number;
  skippedSteps: number;
  history: HistoryEntry[];
  acc: Accumulator;
  optimizer: {
    className: string;
    saved: boolean;
    count: number;
    names: string[];
    extras: string[];
  };
  /** Each callback's JSON state, by callback name. */
  callbacks: Record<string, unknown>;
  /** Each callback's tensor state: the keys stored as `callback/<name>/<key>`. */
  callbackTensors: Record<string, string[]>;
  reason: string;
  savedAt: string;
  metadata: Record<string, unknown>;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** Validates `raw` (a checkpoint's metadata) field by field; throws naming the first bad one. */
export function validateCheckpointMeta(raw: unknown, source: string): CheckpointMeta {
  const fail = (field: string, want: string, got: unknown): never => {
    let shown: string;
    try {
      shown = JSON.stringify(got) ?? String(got);
    } catch {
      shown = String(got);
    }
    if (shown.length > 60) shown = `${shown.slice(0, 57)}...`;
    throw new CheckpointMetadataError(
      `${source}: checkpoint metadata field '${field}' must be ${want}, got ${shown}. The checkpoint's model.json was edited or damaged; resume from another checkpoint.`,
      field,
      source,
    );
  };
  const obj = (v: unknown, field: string): Obj => (isObj(v) ? v : fail(field, 'an object', v));
  const int = (v: unknown, field: string, min = 0): number =>
    Number.isSafeInteger(v) && (v as number) >= min
      ? (v as number)
      : fail(field, `an integer >= ${min}`, v);
  const num = (v: unknown, field: string): number =>
    typeof v === 'number' && Number.isFinite(v) ? v : fail(field, 'a finite number', v);
  // JSON has no NaN: a mean over only skipped steps is stored as null
  const numOrNull = (v: unknown, field: string): number =>
    v === null ? Number.NaN : num(v, field);
  const str = (v: unknown, field: string): string =>
    typeof v === 'string' ? v : fail(field, 'a string', v);
  const strings = (v: unknown, field: string): string[] => {
    if (!Array.isArray(v)) return fail(field, 'an array of strings', v);
    return v.map((x, i) => str(x, `${field}[${i}]`));
  };
  const metrics = (v: unknown, field: string): Record<string, number> => {
    const o = obj(v, field);
    const out: Record<string, number> = {};
    for (const [k, x] of Object.entries(o)) out[k] = numOrNull(x, `${field}.${k}`);
    return out;
  };
  const array = <T>(v: unknown, field: string, each: (x: unknown, f: string) => T): T[] =>
    Array.isArray(v) ? v.map((x, i) => each(x, `${field}[${i}]`)) : fail(field, 'an array', v);

  const m = obj(raw, 'metadata');
  if (m.kind !== 'dgmjs-trainer-checkpoint') fail('kind', "'dgmjs-trainer-checkpoint'", m.kind);
  if (m.version !== 1) fail('version', '1', m.version);
  const history = array(m.history, 'history', (x, f): HistoryEntry => {
    const h = obj(x, f);
    return {
      step: int(h.step, `${f}.step`),
      epoch: int(h.epoch, `${f}.epoch`),
      elapsedMs: num(h.elapsedMs, `${f}.elapsedMs`),
      loss: numOrNull(h.loss, `${f}.loss`),
      metrics: metrics(h.metrics, `${f}.metrics`),
      steps: int(h.steps, `${f}.steps`),
      skipped: int(h.skipped, `${f}.skipped`),
    };
  });
  const a = obj(m.acc, 'acc');
  const o = obj(m.optimizer, 'optimizer');
  if (typeof o.saved !== 'boolean') fail('optimizer.saved', 'a boolean', o.saved);
  const count = int(o.count, 'optimizer.count');
  const names = strings(o.names, 'optimizer.names');
  if (names.length !== count) fail('optimizer.names', `${count} names (optimizer.count)`, names);
  const extras = strings(o.extras, 'optimizer.extras');
  for (const [i, e] of extras.entries()) {
    if (!(OPTIMIZER_EXTRAS as readonly string[]).includes(e)) {
      fail(`optimizer.extras[${i}]`, `one of ${OPTIMIZER_EXTRAS.join(', ')}`, e);
    }
  }
  const callbacks = m.callbacks === undefined ? legacyCallbacks(m) : obj(m.callbacks, 'callbacks');
  if (callbacks.validation !== undefined) validateValidationState(callbacks.validation, source);
  const callbackTensors: Record<string, string[]> = {};
  if (m.callbackTensors !== undefined) {
    for (const [k, v] of Object.entries(obj(m.callbackTensors, 'callbackTensors'))) {
      callbackTensors[k] = strings(v, `callbackTensors.${k}`);
    }
  }
  return {
    kind: 'dgmjs-trainer-checkpoint',
    version: 1,
    step: int(m.step, 'step'),
    epoch: int(m.epoch, 'epoch'),
    batchInEpoch: int(m.batchInEpoch, 'batchInEpoch'),
    seed: Number.isSafeInteger(m.seed) ? (m.seed as number) : fail('seed', 'an integer', m.seed),
    rngState: int(m.rngState, 'rngState'),
    elapsedMs: num(m.elapsedMs, 'elapsedMs'),
    skippedSteps: int(m.skippedSteps, 'skippedSteps'),
    history,
    acc: {
      n: int(a.n, 'acc.n'),
      loss: numOrNull(a.loss, 'acc.loss'),
      metrics: metrics(a.metrics, 'acc.metrics'),
      skipped: int(a.skipped, 'acc.skipped'),
    },
    optimizer: {
      className: str(o.className, 'optimizer.className'),
      saved: o.saved as boolean,
      count,
      names,
      extras,
    },
    callbacks,
    callbackTensors,
    reason: typeof m.reason === 'string' ? m.reason : '',
    savedAt: typeof m.savedAt === 'string' ? m.savedAt : '',
    metadata: isObj(m.metadata) ? m.metadata : {},
  };
}

/** Checkpoints written before callbacks had their own state kept validation at the top level. */
function legacyCallbacks(m: Obj): Obj {
  if (m.validation === undefined) return {};
  return { validation: { validation: m.validation, best: m.best, sinceBest: m.sinceBest } };
}

/** Validates the validation callback's saved state. */
export function validateValidationState(
  raw: unknown,
  source: string,
): { validation: ValidationEntry[]; best: BestMetric | undefined; sinceBest: number } {
  const fail = (field: string, want: string): never => {
    throw new CheckpointMetadataError(
      `${source}: checkpoint metadata field 'callbacks.validation.${field}' must be ${want}. The checkpoint's model.json was edited or damaged; resume from another checkpoint.`,
      `callbacks.validation.${field}`,
      source,
    );
  };
  const s = isObj(raw) ? raw : fail('', 'an object');
  const validation = Array.isArray(s.validation) ? s.validation : fail('validation', 'an array');
  validation.forEach((v, i) => {
    if (!isObj(v) || !Number.isSafeInteger(v.step) || !isObj(v.metrics)) {
      fail(`validation[${i}]`, 'a validation entry { step, epoch, elapsedMs, metrics }');
    }
  });
  let best: BestMetric | undefined;
  if (s.best !== null && s.best !== undefined) {
    const b = s.best;
    if (!isObj(b) || typeof b.metric !== 'string' || !Number.isSafeInteger(b.step)) {
      fail('best', '{ metric, value, step } or null');
    }
    const bo = b as Obj;
    best = {
      metric: bo.metric as string,
      value: typeof bo.value === 'number' ? bo.value : Number.NaN,
      step: bo.step as number,
    };
  }
  const sinceBest = s.sinceBest;
  if (!Number.isSafeInteger(sinceBest) || (sinceBest as number) < 0) {
    fail('sinceBest', 'an integer >= 0');
  }
  return { validation: validation as ValidationEntry[], best, sinceBest: sinceBest as number };
}
