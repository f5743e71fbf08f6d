/** The addon's fused optimizer updates and memory-bound ops (see native/src/dgm_ops.c). */
// biome-ignore lint/suspicious/noEmptyInterface: filled in as functions are added
export interface NativeOpsKernels {}
