/** Plots of the demo report that `@sift/eval` has no helper for, rendered with its Vega-Lite renderer. */
import { renderVegaLiteSvg } from '@sift/eval';

/** One point of `plotBitsVsPerplexity`. */
export interface BitsPoint {
  /** Shown beside the point, e.g. `2:4 wanda`. */
  label: string;
  /** Colour group, e.g. the method. */
  group: string;
  bitsPerWeight: number;
  perplexity: number;
}

/**
 * Storage against quality: bits per weight (x) against perplexity (y), one labelled point per configuration.
 * Returns a standalone SVG string.
 */
export async function plotBitsVsPerplexity(points: readonly BitsPoint[], title = 'Bits per weight vs perplexity'): Promise<string> {
  return renderVegaLiteSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    config: { background: 'white', font: 'sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11 } },
    data: { values: points.map((p) => ({ ...p })) },
    width: 420,
    height: 260,
    encoding: {
      x: { field: 'bitsPerWeight', type: 'quantitative', title: 'bits per weight (pruned linears, fp16 values)', scale: { zero: false, padding: 20 } },
      y: { field: 'perplexity', type: 'quantitative', title: 'perplexity (test slice)', scale: { zero: false, padding: 20 } },
    },
    layer: [
      { mark: { type: 'point', filled: true, size: 70 }, encoding: { color: { field: 'group', type: 'nominal', title: 'method', sort: null } } },
      { mark: { type: 'text', align: 'left', dx: 7, dy: -6, fontSize: 10 }, encoding: { text: { field: 'label' } } },
    ],
  });
}
