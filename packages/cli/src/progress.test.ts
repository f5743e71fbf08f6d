import type { ProgressInfo } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { CliProgress, fitProgress } from './progress.js';

const info = (step: number, loss: number): ProgressInfo => ({
  step,
  totalSteps: 100,
  epoch: 0,
  epochs: undefined,
  loss,
  metrics: { elbo: -loss, recon: -loss + 3, kl: 3.25, klWeight: 1 },
  stepsPerSec: 12.5,
  examplesPerSec: 800,
  etaSec: 70,
  skipped: 0,
});

describe('progress on a terminal', () => {
  it('drops the metrics, not the rate and ETA, when the line is wider than the terminal', () => {
    expect(fitProgress(info(3, 500), 80, Number.NaN).metrics).toEqual({});
    expect(fitProgress(info(3, 500), 200, Number.NaN).metrics).toEqual(info(3, 500).metrics);
    expect(fitProgress(info(3, 500), undefined, Number.NaN).metrics).toEqual(info(3, 500).metrics);
    expect(fitProgress(info(3, Number.NaN), undefined, 498).loss).toBe(498);
  });

  it('redraws one bar with rate and ETA within 80 columns, and ends it with a newline', () => {
    let text = '';
    const stream = {
      isTTY: true,
      columns: 80,
      write: (s: string) => {
        text += s;
      },
    };
    const p = new CliProgress(stream, 100);
    p.update(info(50, 500));
    p.update(info(50, Number.NaN)); // the trainer's closing repeat: ignored
    p.finish();
    const lines = text.split('\r\u001b[2K').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l.trimEnd().length).toBeLessThanOrEqual(79);
      expect(l).toMatch(
        /\[#+\.+\] +50% step 50\/100 \| loss 500 \| 12\.5 steps\/s 800 ex\/s \| ETA 1:10/,
      );
    }
    expect(text.endsWith('\n')).toBe(true);
  });
});
