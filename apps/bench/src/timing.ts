/** Median of `iters` timed runs of `fn` (ms), after `warmup` untimed runs. */
export async function medianMs(
  fn: () => void | Promise<void>,
  warmup: number,
  iters: number,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  return times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
}

/** A progress line on stderr (kept out of stdout so results stay machine-readable). */
export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}
