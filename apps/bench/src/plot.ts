/**
 * @deprecated The bench's figures come from core's `plotSvg` (and `writeFigure` in report.ts).
 * This adapter keeps the old `linePlot(spec)` call of the `flows` suite compiling until that suite
 * switches to `plotSvg(spec.series, { ...spec, logX: spec.xLog, logY: spec.yLog })`; then delete it.
 */
import { type PlotSeries, plotSvg } from '@dgm-js/core-tensors';

export { writeFigure } from './report.js';

/** @deprecated Core's `PlotSeries`. */
export type Series = PlotSeries;

/** @deprecated Core's `PlotOptions` (with `logX` / `logY`) plus the series. */
export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  series: readonly PlotSeries[];
  width?: number;
  height?: number;
  legend?: 'top-right' | 'top-left' | 'bottom-right' | 'bottom-left';
}

/** @deprecated Use core's `plotSvg(series, options)`. */
export function linePlot(spec: PlotSpec): string {
  const { series, xLog, yLog, ...opts } = spec;
  return plotSvg(series, { ...opts, logX: xLog ?? false, logY: yLog ?? false });
}
