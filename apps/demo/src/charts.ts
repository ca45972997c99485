/**
 * Canvas drawings of the labs: a zoomable mask heat-map, a line chart (loss curves), a bar chart (column scores)
 * and a scatter plot (embedding maps). Plain 2-D canvas, no library.
 */
import { el } from './labs.js';

/** Colours: pruned, kept, salient (RGB). */
const PRUNED = [250, 250, 250] as const;
const KEPT = [38, 70, 140] as const;
const SALIENT = [215, 45, 45] as const;

/** Categorical palette (colour-blind friendly, Okabe-Ito). */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#000000'];

/** What a mask heat-map shows: a [rows, cols] mask (0 pruned, 1 kept, 2 salient) and the group size M. */
export interface MaskImage {
  name: string;
  rows: number;
  cols: number;
  mask: Uint8Array;
  /** M of the N:M pattern (group boundaries are drawn when zoomed in), or null for unstructured. */
  m: number | null;
}

/**
 * A zoomable heat-map of a layer's mask: the whole matrix fits the canvas (each pixel the mean of the weights it
 * covers), a click zooms 4x around the clicked weight until single weights are 32 px, with the M-group boundaries
 * drawn once a weight is at least 6 px wide; "Reset" (or a right click) goes back to the whole matrix.
 */
export class MaskHeatmap {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private readonly caption: HTMLElement;
  private image: MaskImage | undefined;
  /** Top-left weight (fractional) and pixels per weight. */
  private view = { col: 0, row: 0, scale: 1 };

  constructor(testId: string, width = 640, height = 320) {
    this.canvas = el('canvas', { width: String(width), height: String(height), class: 'heatmap', 'data-testid': testId });
    this.caption = el('span', { class: 'status', 'data-testid': `${testId}-view` });
    const reset = el('button', { type: 'button', 'data-testid': `${testId}-reset` }, 'Reset zoom');
    reset.addEventListener('click', () => { this.fit(); });
    this.canvas.addEventListener('click', (e) => { this.zoomAt(e.offsetX, e.offsetY, 4); });
    this.canvas.addEventListener('contextmenu', (e) => {
      e.preventDefault();
      this.fit();
    });
    const legend = el('span', { class: 'legend' },
      swatch(KEPT), ' kept ', swatch(SALIENT), ' salient ', swatch(PRUNED), ' pruned · click to zoom in');
    this.root = el('div', { class: 'heatmap-box' }, this.canvas, el('div', {}, reset, ' ', legend, ' ', this.caption));
  }

  /** Shows another mask, zoomed out. */
  show(image: MaskImage): void {
    this.image = image;
    this.fit();
  }

  /** Pixels per weight now. */
  get scale(): number {
    return this.view.scale;
  }

  /** Zoomed out: the whole matrix fits. */
  fit(): void {
    if (this.image === undefined) return;
    this.view = { col: 0, row: 0, scale: Math.min(this.canvas.width / this.image.cols, this.canvas.height / this.image.rows) };
    this.draw();
  }

  /** Zooms by `factor` keeping the weight under canvas pixel (x, y) in place; at most 32 px per weight. */
  zoomAt(x: number, y: number, factor: number): void {
    const img = this.image;
    if (img === undefined) return;
    const col = this.view.col + x / this.view.scale;
    const row = this.view.row + y / this.view.scale;
    const scale = Math.min(32, this.view.scale * factor);
    const w = this.canvas.width / scale;
    const h = this.canvas.height / scale;
    this.view = {
      scale,
      col: Math.max(0, Math.min(img.cols - w, col - x / scale)),
      row: Math.max(0, Math.min(img.rows - h, row - y / scale)),
    };
    if (w >= img.cols) this.view.col = 0;
    if (h >= img.rows) this.view.row = 0;
    this.draw();
  }

  private draw(): void {
    const img = this.image;
    const g = this.canvas.getContext('2d');
    if (img === undefined || g === null) return;
    const { width, height } = this.canvas;
    const { col: c0, row: r0, scale: s } = this.view;
    const data = g.createImageData(width, height);
    const px = data.data;
    const step = 1 / s;
    for (let y = 0; y < height; y++) {
      const ra = r0 + y * step;
      const rowA = Math.floor(ra);
      const rowB = Math.max(rowA + 1, Math.floor(ra + step));
      for (let x = 0; x < width; x++) {
        const o = 4 * (y * width + x);
        const ca = c0 + x * step;
        const colA = Math.floor(ca);
        const colB = Math.max(colA + 1, Math.floor(ca + step));
        if (rowA >= img.rows || colA >= img.cols) {
          px[o] = 230;
          px[o + 1] = 230;
          px[o + 2] = 230;
          px[o + 3] = 255;
          continue;
        }
        // Mean colour of the weights under this pixel.
        let n = 0;
        let kept = 0;
        let sal = 0;
        for (let r = rowA; r < Math.min(rowB, img.rows); r++) {
          for (let c = colA; c < Math.min(colB, img.cols); c++) {
            const v = img.mask[r * img.cols + c];
            if (v === 1) kept++;
            else if (v === 2) sal++;
            n++;
          }
        }
        const pr = n - kept - sal;
        for (let k = 0; k < 3; k++) px[o + k] = Math.round((pr * PRUNED[k] + kept * KEPT[k] + sal * SALIENT[k]) / n);
        px[o + 3] = 255;
      }
    }
    g.putImageData(data, 0, 0);
    if (s >= 6) {
      // Grid: thin lines between weights, thick ones between M-groups.
      g.strokeStyle = 'rgba(0,0,0,0.12)';
      g.lineWidth = 1;
      g.beginPath();
      for (let c = Math.ceil(c0); c <= c0 + width / s; c++) {
        const x = Math.round((c - c0) * s) + 0.5;
        g.moveTo(x, 0);
        g.lineTo(x, height);
      }
      for (let r = Math.ceil(r0); r <= r0 + height / s; r++) {
        const y = Math.round((r - r0) * s) + 0.5;
        g.moveTo(0, y);
        g.lineTo(width, y);
      }
      g.stroke();
      if (img.m !== null) {
        g.strokeStyle = 'rgba(255,160,0,0.95)';
        g.lineWidth = 2;
        g.beginPath();
        for (let c = Math.ceil(c0 / img.m) * img.m; c <= c0 + width / s; c += img.m) {
          const x = Math.round((c - c0) * s);
          g.moveTo(x, 0);
          g.lineTo(x, height);
        }
        g.stroke();
      }
    }
    const colEnd = Math.min(img.cols, Math.ceil(c0 + width / s));
    const rowEnd = Math.min(img.rows, Math.ceil(r0 + height / s));
    this.canvas.dataset.scale = s.toFixed(3);
    this.caption.textContent = `${img.name} [${img.rows} x ${img.cols}]: rows ${Math.floor(r0)}-${rowEnd - 1}, columns ${Math.floor(c0)}-${colEnd - 1}` +
      (s >= 1 ? `, ${s.toFixed(s < 10 ? 1 : 0)} px per weight` : `, ${(1 / s).toFixed(1)} weights per px`) +
      (img.m !== null && s >= 6 ? `; orange lines: groups of ${img.m}` : '');
  }
}

function swatch(rgb: readonly [number, number, number]): HTMLElement {
  return el('span', { class: 'swatch', style: `background: rgb(${rgb.join(',')})` });
}

/** Sets up a canvas for drawing with a margin; returns the plot area. */
function frame(canvas: HTMLCanvasElement): { g: CanvasRenderingContext2D; x0: number; y0: number; w: number; h: number } | undefined {
  const g = canvas.getContext('2d');
  if (g === null) return undefined;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = '#fff';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.font = '11px system-ui, sans-serif';
  const x0 = 48;
  const y0 = 10;
  return { g, x0, y0, w: canvas.width - x0 - 10, h: canvas.height - y0 - 24 };
}

function fmt(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 0.01 || a >= 1e4) ? v.toExponential(1) : v.toFixed(a < 10 ? 2 : 0);
}

/** A line chart of one or more series against their index (e.g. the loss per step). */
export function drawLines(canvas: HTMLCanvasElement, series: { values: readonly number[]; color: string; label: string }[], xLabel: string): void {
  const f = frame(canvas);
  if (f === undefined) return;
  const { g, x0, y0, w, h } = f;
  const all = series.flatMap((s) => s.values.filter((v) => Number.isFinite(v)));
  if (all.length === 0) return;
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi === lo) {
    hi += 0.5;
    lo -= 0.5;
  }
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const X = (i: number): number => x0 + (w * i) / (n - 1);
  const Y = (v: number): number => y0 + h - (h * (v - lo)) / (hi - lo);
  g.strokeStyle = '#999';
  g.strokeRect(x0, y0, w, h);
  g.fillStyle = '#333';
  g.textAlign = 'right';
  g.fillText(fmt(hi), x0 - 4, y0 + 8);
  g.fillText(fmt(lo), x0 - 4, y0 + h);
  g.textAlign = 'center';
  g.fillText(`${xLabel} (1-${n})`, x0 + w / 2, y0 + h + 16);
  series.forEach((s, k) => {
    g.strokeStyle = s.color;
    g.fillStyle = s.color;
    g.lineWidth = 2;
    g.beginPath();
    s.values.forEach((v, i) => {
      if (i === 0) g.moveTo(X(i), Y(v));
      else g.lineTo(X(i), Y(v));
    });
    g.stroke();
    for (const [i, v] of s.values.entries()) g.fillRect(X(i) - 2, Y(v) - 2, 4, 4);
    g.textAlign = 'right';
    g.fillText(s.label, x0 + w - 4, y0 + 14 + 13 * k);
  });
}

/** A bar per entry (e.g. a column's salience score), highlighted entries in red. */
export function drawBars(canvas: HTMLCanvasElement, values: ArrayLike<number>, highlight: ReadonlySet<number>, xLabel: string): void {
  const f = frame(canvas);
  if (f === undefined) return;
  const { g, x0, y0, w, h } = f;
  let hi = 0;
  for (const v of Array.from(values)) hi = Math.max(hi, v);
  if (!(hi > 0)) hi = 1;
  g.strokeStyle = '#999';
  g.strokeRect(x0, y0, w, h);
  const bw = w / values.length;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0;
    const bh = (h * v) / hi;
    g.fillStyle = highlight.has(i) ? '#d72d2d' : '#26468c';
    g.fillRect(x0 + i * bw, y0 + h - bh, Math.max(1, bw), bh);
  }
  g.fillStyle = '#333';
  g.textAlign = 'right';
  g.fillText(fmt(hi), x0 - 4, y0 + 8);
  g.fillText('0', x0 - 4, y0 + h);
  g.textAlign = 'center';
  g.fillText(`${xLabel} (0-${values.length - 1})`, x0 + w / 2, y0 + h + 16);
}

/** A scatter plot of 2-D points [x0, y0, x1, y1, ...] coloured by class. */
export function drawScatter(canvas: HTMLCanvasElement, xy: Float32Array, classes: Int32Array, numClasses: number): void {
  const f = frame(canvas);
  if (f === undefined) return;
  const { g, x0, y0, w, h } = f;
  const n = classes.length;
  if (n === 0) return;
  let [xl, xh, yl, yh] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    xl = Math.min(xl, xy[2 * i] ?? 0);
    xh = Math.max(xh, xy[2 * i] ?? 0);
    yl = Math.min(yl, xy[2 * i + 1] ?? 0);
    yh = Math.max(yh, xy[2 * i + 1] ?? 0);
  }
  const sx = xh > xl ? w / (xh - xl) : 1;
  const sy = yh > yl ? h / (yh - yl) : 1;
  g.strokeStyle = '#999';
  g.strokeRect(x0, y0, w, h);
  for (let i = 0; i < n; i++) {
    const c = classes[i] ?? -1;
    g.fillStyle = c < 0 ? '#888' : PALETTE[c % PALETTE.length] ?? '#888';
    g.beginPath();
    g.arc(x0 + ((xy[2 * i] ?? 0) - xl) * sx, y0 + h - ((xy[2 * i + 1] ?? 0) - yl) * sy, 3, 0, 2 * Math.PI);
    g.fill();
  }
  g.textAlign = 'left';
  for (let c = 0; c < numClasses; c++) {
    g.fillStyle = PALETTE[c % PALETTE.length] ?? '#888';
    g.fillText(`● class ${c}`, x0 + 4 + 58 * c, y0 + h + 16);
  }
}
