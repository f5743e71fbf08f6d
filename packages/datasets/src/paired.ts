import { ShapeError, ValueError } from '@dgm-js/core-tensors';
import type { Dataset, DatasetMeta, FieldSpec, FillBuffers, FillContext } from './dataset.js';
import { hashKey, Stream32 } from './hash.js';
import type { ImageDataset, ImageFields, ImageShape } from './image.js';

/**
 * Fields of a paired (image, label) dataset with missing modalities: `image` (zeros where
 * missing), `label` int32 (-1 where missing), `labelOneHot` (zeros where missing), and the
 * per-example masks `imageMask`, `labelMask` (float32, 1 = present, 0 = missing).
 */
export type PairedFields<XS extends readonly number[] = ImageShape> = {
  readonly image: FieldSpec<XS, 'float32'>;
  readonly label: FieldSpec<readonly [], 'int32'>;
  readonly labelOneHot: FieldSpec<readonly [number], 'float32'>;
  readonly imageMask: FieldSpec<readonly [], 'float32'>;
  readonly labelMask: FieldSpec<readonly [], 'float32'>;
};

/** Options of {@link pairedDataset}. */
export interface PairedOptions {
  /** Fraction of examples whose image is missing (label only). Default 0. */
  readonly imageMissing?: number;
  /** Fraction of examples whose label is missing (image only). Default 0. */
  readonly labelMissing?: number;
  /** Seed of the per-example missingness draw. Default 0. */
  readonly seed?: number;
  /**
   * Explicit presence masks (1 present, 0 missing), one entry per example; override the
   * fractions. An example may not miss both modalities.
   */
  readonly masks?: { readonly image?: Uint8Array; readonly label?: Uint8Array };
}

/**
 * Paired multimodal data for multimodal VAEs: every example is an (image, label) pair of which
 * at most one modality may be missing; the masks say which. Missingness is drawn once per
 * example from `seed` (each example independently: image missing with probability
 * `imageMissing`, else label missing with probability `labelMissing / (1 - imageMissing)`,
 * so the expected fractions are the ones asked for), or given explicitly.
 *
 * @example
 * ```ts
 * import { loadBinarizedMnist, pairedDataset, forEachBatch } from '@dgm-js/datasets';
 * const { train } = await loadBinarizedMnist({ flat: true });
 * const paired = pairedDataset(train, { labelMissing: 0.9, seed: 0 }); // 10% labelled
 * await forEachBatch(paired, { batchSize: 100, seed: 0 }, ({ tensors }) => {
 *   // tensors.image [100, 784], tensors.labelOneHot [100, 10], tensors.labelMask [100]
 * });
 * ```
 */
export class PairedDataset<XS extends readonly number[] = ImageShape>
  implements Dataset<PairedFields<XS>>
{
  readonly size: number;
  readonly fields: PairedFields<XS>;
  readonly meta: DatasetMeta;
  /** 1 where the example's image is present. */
  readonly imagePresent: Uint8Array;
  /** 1 where the example's label is present. */
  readonly labelPresent: Uint8Array;
  /** How many examples are complete, image-only and label-only. */
  readonly counts: {
    readonly complete: number;
    readonly imageOnly: number;
    readonly labelOnly: number;
  };
  private readonly base: ImageDataset<XS>;

  constructor(base: ImageDataset<XS>, opts: PairedOptions = {}) {
    const n = base.size;
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed))
      throw new ValueError(`pairedDataset: seed must be an integer, got ${seed}.`);
    const pi = opts.imageMissing ?? 0;
    const pl = opts.labelMissing ?? 0;
    if (!(pi >= 0 && pl >= 0 && pi + pl <= 1)) {
      throw new ValueError(
        `pairedDataset: imageMissing (${pi}) and labelMissing (${pl}) must be fractions in [0, 1] with imageMissing + labelMissing <= 1 (an example keeps at least one modality).`,
      );
    }
    this.base = base;
    this.size = n;
    const img = new Uint8Array(n).fill(1);
    const lab = new Uint8Array(n).fill(1);
    const given = opts.masks;
    if (given?.image || given?.label) {
      for (const [name, m, dst] of [
        ['image', given.image, img],
        ['label', given.label, lab],
      ] as const) {
        if (!m) continue;
        if (m.length !== n) {
          throw new ShapeError(
            `pairedDataset: masks.${name} has ${m.length} entries, the dataset ${n}; give one 0/1 entry per example.`,
          );
        }
        for (let i = 0; i < n; i++) dst[i] = m[i] ? 1 : 0;
      }
      for (let i = 0; i < n; i++) {
        if (!img[i] && !lab[i]) {
          throw new ValueError(
            `pairedDataset: example ${i} misses both image and label in the given masks; every example must keep at least one modality.`,
          );
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        const u = new Stream32(hashKey(seed, 0x9a1d, i)).float();
        if (u < pi) img[i] = 0;
        else if (u < pi + pl) lab[i] = 0;
      }
    }
    let complete = 0;
    let imageOnly = 0;
    let labelOnly = 0;
    for (let i = 0; i < n; i++) {
      if (img[i] && lab[i]) complete++;
      else if (img[i]) imageOnly++;
      else labelOnly++;
    }
    this.imagePresent = img;
    this.labelPresent = lab;
    this.counts = { complete, imageOnly, labelOnly };
    this.fields = {
      image: base.fields.x,
      label: base.fields.y,
      labelOneHot: base.fields.yOneHot,
      imageMask: { shape: [] as const, dtype: 'float32' },
      labelMask: { shape: [] as const, dtype: 'float32' },
    };
    this.meta = {
      ...base.meta,
      name: `paired-${base.meta.name}`,
      params: {
        ...base.meta.params,
        imageMissing: given ? null : pi,
        labelMissing: given ? null : pl,
        missingSeed: given ? null : seed,
        explicitMasks: Boolean(given?.image || given?.label),
        ...this.counts,
      },
    };
  }

  /** Writes examples `indices` into `out` (see {@link Dataset.fill}). */
  fill(indices: ArrayLike<number>, out: FillBuffers<PairedFields<XS>>, ctx: FillContext): void {
    const { image, label, labelOneHot, imageMask, labelMask } = out;
    const baseOut: FillBuffers<ImageFields<XS>> = {};
    if (image) baseOut.x = image;
    if (label) baseOut.y = label;
    if (labelOneHot) baseOut.yOneHot = labelOneHot;
    this.base.fill(indices, baseOut, ctx);
    const d = this.base.height * this.base.width;
    const K = this.base.numClasses;
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      const hasImg = this.imagePresent[i]!;
      const hasLab = this.labelPresent[i]!;
      if (imageMask) imageMask[k] = hasImg;
      if (labelMask) labelMask[k] = hasLab;
      if (!hasImg && image) image.fill(0, k * d, (k + 1) * d);
      if (!hasLab) {
        if (label) label[k] = -1;
        if (labelOneHot) labelOneHot.fill(0, k * K, (k + 1) * K);
      }
    }
  }
}

/**
 * Wraps an image dataset as paired (image, label) data with missing modalities
 * (see {@link PairedDataset}).
 *
 * @example
 * ```ts
 * import { loadMnist, pairedDataset } from '@dgm-js/datasets';
 * const { train } = await loadMnist();
 * const ds = pairedDataset(train, { imageMissing: 0.1, labelMissing: 0.5, seed: 3 });
 * console.log(ds.counts); // about { complete: 24000, imageOnly: 30000, labelOnly: 6000 }
 * ```
 */
export function pairedDataset<XS extends readonly number[]>(
  base: ImageDataset<XS>,
  opts: PairedOptions = {},
): PairedDataset<XS> {
  return new PairedDataset<XS>(base, opts);
}
