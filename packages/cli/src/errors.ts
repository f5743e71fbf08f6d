/**
 * The CLI's one error type: a message for the user (one line, naming the flag or file at fault)
 * and the exit code.
 */

/**
 * An error the user can fix: printed as one line `dgm <command>: error: <message>`, then the
 * process exits with `exitCode` (default 1).
 *
 * @example
 * ```ts
 * throw new CliError("--out: run/ already holds a run (run.json); pass --resume to continue it");
 * ```
 */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/**
 * The first line of an error's message, with the error's name when it is a typed dgm.js error
 * (`ValueError: ...`), for one-line reports.
 *
 * @example
 * ```ts
 * oneLine(new Error('a\nb')); // 'a'
 * ```
 */
export function oneLine(e: unknown): string {
  if (e instanceof CliError) return firstLine(e.message);
  if (e instanceof Error) {
    const named = e.name && e.name !== 'Error' ? `${e.name}: ` : '';
    return `${named}${firstLine(e.message)}`;
  }
  return firstLine(String(e));
}

function firstLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim() !== '') ?? s;
  return line.trim();
}
