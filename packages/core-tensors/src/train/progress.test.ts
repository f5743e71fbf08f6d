import { describe, expect, it } from 'vitest';
import type { StepEndEvent, TrainerHandle } from './callback.js';
import { ProgressCallback } from './callbacks/progress.js';
import { type ProgressInfo, ProgressReporter, progressBarLine } from './progress.js';

function info(over: Partial<ProgressInfo> = {}): ProgressInfo {
  return {
    step: 1234,
    totalSteps: 10000,
    epoch: 2,
    epochs: 10,
    loss: 0.5123,
    metrics: { kl: 3.25, recon: 120.5, elbo: -123.75, grad_norm: 4.125 },
    stepsPerSec: 41.25,
    examplesPerSec: 1320,
    etaSec: 212,
    ...over,
  } as ProgressInfo;
}

/** What a TTY stream received, without the redraw escapes. */
function ttyLines(columns: number) {
  const out: string[] = [];
  const stream = {
    isTTY: true,
    columns,
    write: (s: string) => {
      out.push(s.split('\r\u001b[2K').join('').replace(/\n$/, ''));
    },
  };
  return { out, stream };
}

describe('progressBarLine / ProgressReporter bar', () => {
  for (const width of [40, 80, 120]) {
    it(`fits a ${width}-column terminal and always keeps the rate and the ETA`, () => {
      for (const p of [info(), info({ skipped: 3 }), info({ examplesPerSec: undefined })]) {
        const { out, stream } = ttyLines(width);
        const r = new ProgressReporter({ stream });
        r.update(p);
        r.finish(p);
        for (const line of out) {
          expect(line.length).toBeLessThan(width);
          expect(line).toContain('41.25 steps/s');
          expect(line).toMatch(/ETA 3:32$|ETA 3:32 \|/);
        }
      }
    });
  }

  it('drops metrics before rate or ETA, last metric first', () => {
    const wide = progressBarLine(info(), 200);
    expect(wide).toContain('grad_norm 4.125');
    expect(wide).toMatch(/^\[[#.]{30}\] {2}12% /);
    const mid = progressBarLine(info(), 80);
    expect(mid.length).toBeLessThan(80);
    expect(mid).not.toContain('grad_norm');
    expect(mid).toContain('loss 0.5123');
    expect(mid).toContain('ETA 3:32');
  });

  it('keeps the end (rate and ETA) even on an absurdly narrow terminal', () => {
    const line = progressBarLine(info(), 20);
    expect(line.length).toBeLessThan(20);
    expect(line.endsWith('ETA 3:32')).toBe(true);
  });

  it('omits a NaN loss instead of printing it', () => {
    expect(progressBarLine(info({ loss: Number.NaN }), 120)).not.toContain('NaN');
  });
});

describe('ProgressCallback closing line', () => {
  it('shows no NaN when no step ran since the last line', () => {
    const { out, stream } = ttyLines(120);
    const seen: ProgressInfo[] = [];
    const cb = new ProgressCallback({ stream, onProgress: (i) => seen.push(i) });
    const t = {
      step: 0,
      epoch: 0,
      epochs: undefined,
      totalSteps: 4,
      skippedSteps: 0,
      stopping: undefined,
    } as unknown as { -readonly [K in keyof TrainerHandle]: TrainerHandle[K] };
    cb.onFitStart(t);
    t.step = 1;
    const e: StepEndEvent = {
      step: 1,
      epoch: 0,
      batchIndex: 0,
      loss: 0.75,
      metrics: { kl: 2 },
      applied: true,
      badGradients: [],
      badMetrics: [],
      examples: 8,
    };
    cb.onStepEnd(t, e); // the first line is due at once and takes the step's mean
    cb.onFitEnd(t, { stopReason: 'max-steps' }); // the closing line: no step since
    expect(out.length).toBe(2);
    for (const line of out) expect(line).not.toContain('NaN');
    expect(out[1]).toContain('loss 0.75 kl 2');
    expect(seen.at(-1)!.loss).toBe(0.75);
  });
});
