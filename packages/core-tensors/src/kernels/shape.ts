// Shape helpers shared by the native kernel files (not exported from the package).

/** The number of elements of a shape. */
export function size(shape: readonly number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

/** The shape without its leading 1s. */
export function stripOnes(shape: readonly number[]): number[] {
  let i = 0;
  while (i < shape.length && shape[i] === 1) i++;
  return shape.slice(i);
}
