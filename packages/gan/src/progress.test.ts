import { fmtNum, Rng, tf } from '@dgm-js/core-tensors';
import { expect, it } from 'vitest';
import { MlpCritic, MlpGenerator } from './networks.js';
import { GanTrainer } from './train.js';

it("progress lines in core's format: every k steps and the last, the generator's loss and the critic's metrics averaged since the last line", async () => {
  const rng = new Rng(3);
  const generator = new MlpGenerator({ latentDim: 2, outputShape: 2, hidden: [8], rng });
  const critic = new MlpCritic({ inputShape: 2, hidden: [8], rng });
  const lines: string[] = [];
  const seen: Record<string, number>[] = [];
  const t = new GanTrainer({
    generator,
    critic,
    loss: 'hinge',
    data: (r) => tf.randomNormal([8, 2], 0, 1, 'float32', r.next()),
    progress: { everySteps: 4, everySeconds: 1e9, stream: { write: (s) => lines.push(s) } },
    onStep: ({ metrics }) => {
      seen.push({ ...metrics });
    },
  });
  await t.fit({ steps: 10 });
  expect(lines.map((l) => l.split(' | ')[0])).toEqual([
    'step 1/10',
    'step 5/10',
    'step 9/10',
    'step 10/10',
  ]);
  // the line at step 5: means over steps 2..5, formatted by core's fmtNum
  const mean = (k: string, a: number, b: number) =>
    seen.slice(a - 1, b).reduce((s, m) => s + m[k]!, 0) / (b - a + 1);
  const parts = lines[1]!.split(' | ');
  expect(parts[1]).toContain(`loss ${fmtNum(mean('lossG', 2, 5))} `);
  expect(parts[1]).toContain(`lossD ${fmtNum(mean('lossD', 2, 5))} `);
  expect(parts[1]).not.toContain('lossG');
  expect(parts[2]).toMatch(/steps\/s$/);
  expect(lines[3]).toContain(`loss ${fmtNum(mean('lossG', 10, 10))} `);
  expect(lines.every((l) => l.endsWith('\n'))).toBe(true);
  t.dispose();
  generator.dispose();
  critic.dispose();
});
