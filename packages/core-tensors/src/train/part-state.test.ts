/**
 * Stateful parts (a gradient estimator's state) in the Trainer: checkpointed, restored on
 * resume, never written when non-finite, and named by the non-finite guard (issue 19).
 */
import { describe, expect, it } from 'vitest';
import type { EstimatorState, StatefulPart } from '../contracts.js';
import { tf } from '../tf.js';
import { MemoryCheckpointStore } from './checkpoint.js';
import { NonFiniteError } from './errors.js';
import { toyTrainer } from './fixtures/toy.js';

/** A part whose state is a counter and a running sum, advanced every step by the callback. */
class Counter implements StatefulPart {
  readonly name = 'counter';
  step = 0;
  sum = [0, 0];
  poisonAt = -1;
  getState(): EstimatorState {
    return {
      estimator: 'counter',
      version: 1,
      step: this.step,
      tensors: { sum: { shape: [2], values: [...this.sum] } },
    };
  }
  setState(s: EstimatorState): void {
    this.step = s.step;
    this.sum = [...s.tensors.sum!.values];
  }
  /** float32 arithmetic: the state's tensors are float32. */
  advance(): void {
    this.step++;
    this.sum = [
      Math.fround(this.sum[0]! + 0.1 * this.step),
      this.step === this.poisonAt ? Number.NaN : this.sum[1]! + 1,
    ];
  }
}

function run(part: Counter, o: Parameters<typeof toyTrainer>[0]) {
  return toyTrainer({
    ...o,
    extra: {
      state: { counter: part },
      callbacks: [{ name: 'advance', onStepEnd: () => part.advance() }],
      ...o.extra,
    },
  });
}

describe('Trainer: stateful parts (TrainerOptions.state, model.trainingState())', () => {
  it('are saved with each checkpoint and restored on resume', async () => {
    const before = tf.memory().numTensors;
    const store = new MemoryCheckpointStore();
    const a = new Counter();
    const first = run(a, { maxSteps: 7, store, every: 5 });
    await first.trainer.fit();
    const b = new Counter();
    const second = run(b, { maxSteps: 9, store, resume: true });
    await second.trainer.fit();
    // resumed at the final checkpoint of the first run (step 7), then 2 more steps
    expect(b.step).toBe(9);
    const ref = new Counter();
    for (let i = 0; i < 9; i++) ref.advance();
    expect(b.sum).toEqual(ref.sum);
    for (const r of [first, second]) {
      r.net.dispose();
      r.optimizer.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('non-finite part state stops training at once, naming the estimator state', async () => {
    const c = new Counter();
    c.poisonAt = 3;
    const store = new MemoryCheckpointStore();
    const r = run(c, { maxSteps: 10, store, every: 1 });
    const err = await r.trainer.fit().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NonFiniteError);
    const e = err as NonFiniteError;
    expect(e.component).toBe('estimator state');
    expect(e.badState).toEqual(['counter.sum']);
    expect(e.message).toMatch(/'counter' estimator's own state diverged.*learningRate/);
    // the part went NaN in the last hook of step 3; the guard (first hook) stopped at step 4,
    // before that step's checkpoint: no checkpoint holds the NaN
    expect(e.step).toBe(4);
    expect((await store.list()).sort()).toEqual([
      'step-00000001',
      'step-00000002',
      'step-00000003',
    ]);
    r.net.dispose();
    r.optimizer.dispose();
  });
});
