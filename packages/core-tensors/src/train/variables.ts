/**
 * The named variables of what the Trainer trains (shared by the Trainer, its checkpoints and the
 * data-parallel worker entry), and the optimizer state tfjs keeps outside `getWeights`.
 */
import { ValueError } from '../errors.js';
import { Module } from '../nn/module.js';
import { tf } from '../tf.js';
import type { Trainable } from './types.js';

/** tfjs's optimizer weight entry. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** The named parameters and buffers of a Trainable, in the Trainer's (checkpoint) order. */
export function collectVariables(model: Trainable): {
  params: [string, tf.Variable][];
  buffers: [string, tf.Variable][];
} {
  const params: [string, tf.Variable][] = [];
  const buffers: [string, tf.Variable][] = [];
  const addVar = (name: string, v: unknown) => {
    if (!(v instanceof tf.Variable)) {
      throw new ValueError(
        `Trainer: model entry '${name}' is neither a Module nor a tf.Variable; wrap tensors with tf.variable(...).`,
      );
    }
    params.push([name, v]);
  };
  if (model instanceof Module) {
    params.push(...model.namedParameters());
    buffers.push(...model.namedBuffers());
  } else if (Array.isArray(model)) {
    model.forEach((v, i) => {
      addVar(String(i), v);
    });
  } else if (model && typeof model === 'object') {
    for (const [k, m] of Object.entries(model)) {
      if (m instanceof Module) {
        params.push(
          ...m.namedParameters().map(([n, v]): [string, tf.Variable] => [`${k}.${n}`, v]),
        );
        buffers.push(...m.namedBuffers().map(([n, v]): [string, tf.Variable] => [`${k}.${n}`, v]));
      } else addVar(k, m);
    }
  } else {
    throw new ValueError(
      'Trainer: model must be a Module, an array of tf.Variables or a record of them.',
    );
  }
  const seen = new Set<tf.Variable>();
  for (const [n, v] of [...params, ...buffers]) {
    if (seen.has(v)) throw new ValueError(`Trainer: variable '${n}' appears twice in model.`);
    seen.add(v);
  }
  if (params.length === 0) throw new ValueError('Trainer: model has no parameters.');
  return { params, buffers };
}

/** The scalar variables some optimizers keep outside getWeights (Adam's running beta powers). */
export const OPTIMIZER_EXTRAS = ['accBeta1', 'accBeta2'] as const;

/** The optimizer's extra scalars that exist (Adam's accBeta1/accBeta2). */
export function optimizerExtras(opt: tf.Optimizer): [string, tf.Variable][] {
  const out: [string, tf.Variable][] = [];
  for (const k of OPTIMIZER_EXTRAS) {
    const v = (opt as unknown as Record<string, unknown>)[k];
    if (v instanceof tf.Variable) out.push([k, v]);
  }
  return out;
}

/** `names` as a list, cut after `max`. */
export function listNames(names: readonly string[], max = 8): string {
  return names.length <= max
    ? names.join(', ')
    : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}
