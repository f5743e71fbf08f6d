/** The shape of a generated weights module (`weights/<dataset>.ts`). */
import type { ConvClassifierConfig } from './net.js';

/** A classifier shipped inside the package: its architecture, weights and training facts. */
export interface ShippedClassifier {
  /** 'mnist' or 'fashion-mnist'. */
  dataset: string;
  /** The architecture's sizes. */
  config: Required<ConvClassifierConfig>;
  /** p*(y): the fraction of each class among the training labels. */
  labelMarginal: number[];
  /** Facts of the training run (test accuracy, epochs, seed, ...). */
  meta: Record<string, unknown>;
  /**
   * The float16 weights (DGW1 format): base64 (how the package ships them), or the raw bytes
   * (e.g. fetched from a URL in a browser: `new Uint8Array(await (await fetch(url)).arrayBuffer())`).
   */
  weights: string | Uint8Array;
}
