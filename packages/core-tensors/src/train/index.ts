export type {
  Callback,
  CallbackEvents,
  CallbackState,
  CheckpointEvent,
  Checkpointer,
  FitEndEvent,
  LoopState,
  RestoreEvent,
  StepEndEvent,
  TrainerHandle,
  ValidationEvent,
} from './callback.js';
export type { CheckpointCallbackOptions } from './callbacks/checkpointing.js';
export { CheckpointCallback } from './callbacks/checkpointing.js';
export { JsonlLogCallback } from './callbacks/jsonl-log.js';
export { LeakCheckCallback } from './callbacks/leak-check.js';
export { NanGuardCallback } from './callbacks/nan-guard.js';
export type { ProgressCallbackOptions } from './callbacks/progress.js';
export { ProgressCallback } from './callbacks/progress.js';
export { ValidationCallback } from './callbacks/validation.js';
export type { CheckpointStore } from './checkpoint.js';
export {
  checkpointName,
  DirectoryCheckpointStore,
  latestCheckpoint,
  listCheckpoints,
  MemoryCheckpointStore,
  readCheckpointDir,
} from './checkpoint.js';
export type { NonFiniteComponent } from './errors.js';
export { CheckpointMetadataError, MemoryLeakError, NonFiniteError } from './errors.js';
export type { ImageGridOptions, RasterImage } from './images.js';
export { encodePng, imageGrid, saveImageGrid, savePng } from './images.js';
export type { TrainerOptions } from './options.js';
export type { ParallelOptions } from './parallel-options.js';
export { ParallelWorkerError } from './parallel-options.js';
export type { LinePlotOptions, Series } from './plot.js';
export { historySeries, linePlotSvg, plotHistory, saveSvg } from './plot.js';
export type { ProgressInfo, ProgressOptions, ProgressStream } from './progress.js';
export { fmtDuration, fmtNum, formatProgress, ProgressReporter } from './progress.js';
export { Trainer } from './trainer.js';
export type {
  AnyModule,
  BestMetric,
  CheckpointOptions,
  DataSource,
  HistoryEntry,
  LossOutput,
  NanGuardOptions,
  Objective,
  Replica,
  ReplicaContext,
  ReplicaFactory,
  ShardInfo,
  StepContext,
  StepInfo,
  StopReason,
  TensorBatch,
  Trainable,
  TrainResult,
  ValidationEntry,
  ValidationOptions,
} from './types.js';
