/** The addon's vectorised elementwise functions (see native/src/dgm_math.c). */
// biome-ignore lint/suspicious/noEmptyInterface: filled in as functions are added
export interface NativeMathKernels {}
