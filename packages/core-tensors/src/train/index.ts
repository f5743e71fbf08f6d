export type { CheckpointStore } from './checkpoint.js';
export {
  checkpointName,
  DirectoryCheckpointStore,
  latestCheckpoint,
  listCheckpoints,
  MemoryCheckpointStore,
  readCheckpointDir,
} from './checkpoint.js';
export { MemoryLeakError, NonFiniteError } from './errors.js';
export type { ImageGridOptions, RasterImage } from './images.js';
export { encodePng, imageGrid, saveImageGrid, savePng } from './images.js';
export type {
  ParallelOptions,
  Replica,
  ReplicaContext,
  ReplicaFactory,
  ShardInfo,
} from './parallel.js';
export { ParallelWorkerError } from './parallel.js';
export type { LinePlotOptions, Series } from './plot.js';
export { historySeries, linePlotSvg, plotHistory, saveSvg } from './plot.js';
export type { ProgressInfo, ProgressOptions, ProgressStream } from './progress.js';
export { fmtDuration, fmtNum, formatProgress, ProgressReporter } from './progress.js';
export type {
  AnyModule,
  BestMetric,
  CheckpointOptions,
  DataSource,
  HistoryEntry,
  LossOutput,
  NanGuardOptions,
  Objective,
  StepContext,
  StepInfo,
  StopReason,
  Trainable,
  TrainerOptions,
  TrainResult,
  ValidationEntry,
  ValidationOptions,
} from './trainer.js';
export { Trainer } from './trainer.js';
