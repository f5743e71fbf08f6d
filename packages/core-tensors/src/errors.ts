/**
 * Typed errors of dgm.js. Every error names the argument, what was wrong and, where it can,
 * the fix. Catch `DgmError` to catch them all.
 */
export class DgmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor or array had the wrong shape. */
export class ShapeError extends DgmError {}

/** An argument had an invalid value (NaN, out of range, wrong type, ...). */
export class ValueError extends DgmError {}

/** A backend could not be initialised or a kernel is unavailable. */
export class BackendError extends DgmError {}

/** Formats a shape the way the error messages print it: `[2, 3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
