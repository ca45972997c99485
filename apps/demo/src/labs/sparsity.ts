/**
 * The Sparsity lab: prune the bundled `small` model (or the user's checkpoint) with `@sift/nm-sparsity` in the worker,
 * then show the mask heat-maps per layer (zoomable to single N:M groups), bits per weight and bytes, the test
 * perplexity and the text of the dense and pruned models side by side.
 */
import { MaskHeatmap } from '../charts.js';
import { formatBytes, formatCount, formatSeconds } from '../format.js';
import { JobControls } from '../job-ui.js';
import { el, type Lab } from '../labs.js';
import { numberInput, select, sourcePicker, textSlice } from '../lm-source.js';
import type { SparsityCorrection, SparsityMethod, SparsityParams, SparsityResult } from '../protocol.js';

/** Defaults of the lab's inputs (small enough for a software WebGPU adapter). */
export const SPARSITY_DEFAULTS = {
  pattern: '8:16', method: 'wanda' as SparsityMethod, salientFraction: 0, varianceCorrection: 'none' as SparsityCorrection,
  calibrationWindows: 8, pplWindows: 4, seqlen: 128, seed: 0, prompt: 'The jury said', maxNewTokens: 16,
};

function fixed(v: number, d = 2): string {
  return Number.isFinite(v) ? v.toFixed(d) : String(v);
}

function render(r: SparsityResult, heatmap: MaskHeatmap, layerSelect: HTMLSelectElement): Node[] {
  const m = r.pattern === 'unstructured' ? null : Number(r.pattern.split(':')[1]);
  const show = (): void => {
    if (r.layers.length === 0) return;
    const layer = r.layers.find((l) => l.name === layerSelect.value) ?? r.layers[0];
    heatmap.show({ name: layer.name, rows: layer.rows, cols: layer.cols, mask: layer.mask, m });
  };
  layerSelect.replaceChildren(...r.layers.map((l) => el('option', { value: l.name },
    `${l.name} [${l.rows} x ${l.cols}] · sparsity ${fixed(l.sparsity, 3)}${l.reconstructionError === null ? '' : ` · error ${l.reconstructionError.toExponential(2)}`}`)));
  layerSelect.onchange = show;
  show();
  const ratio = r.pruned.perplexity / r.dense.perplexity;
  const rows = r.layers.map((l) => el('tr', {}, el('td', {}, l.name), el('td', {}, `${l.rows} x ${l.cols}`), el('td', { class: 'num' }, fixed(l.sparsity, 3)),
    el('td', { class: 'num' }, l.reconstructionError === null ? '-' : l.reconstructionError.toExponential(2)), el('td', { class: 'num' }, fixed(l.bitsPerWeight, 3))));
  return [
    el('p', { 'data-testid': 'sparsity-summary' },
      `${r.model.name} (${r.model.modelType}, ${formatCount(r.model.parameters)} parameters, ${r.model.dtypes.join('/')}) on ${r.backend}` +
        `${r.pruneBackend === r.backend ? '' : ` (the pruning step on ${r.pruneBackend}: it reads weights synchronously, which tfjs's WebGPU backend does not do reliably)`}: `,
      el('strong', {}, `${r.method} ${r.pattern}`), `, ${r.layers.length} linears pruned to sparsity ${fixed(r.sparsity, 4)}.`),
    el('table', { class: 'tensors', 'data-testid': 'sparsity-numbers' },
      el('tr', {}, el('th', {}, ''), el('th', {}, 'dense'), el('th', {}, 'pruned')),
      el('tr', {}, el('td', {}, `test perplexity (${r.dense.windows} x ${r.dense.tokens / r.dense.windows + 1} tokens)`),
        el('td', { class: 'num', 'data-testid': 'sparsity-ppl-dense' }, fixed(r.dense.perplexity, 3)),
        el('td', { class: 'num', 'data-testid': 'sparsity-ppl-pruned' }, `${fixed(r.pruned.perplexity, 3)} (x${fixed(ratio, 2)})`)),
      el('tr', {}, el('td', {}, 'bits per weight of the pruned linears (fp16 values)'), el('td', { class: 'num' }, '16'),
        el('td', { class: 'num', 'data-testid': 'sparsity-bits' }, `${fixed(r.bits.total, 3)} (${r.bits.layout}: values ${fixed(r.bits.values, 3)}, ` +
          `metadata ${fixed(r.bits.metadata, 3)}${r.bits.salient > 0 ? `, salient ${fixed(r.bits.salient, 3)}` : ''})`)),
      el('tr', {}, el('td', {}, 'bytes of the pruned linears'), el('td', { class: 'num' }, formatBytes(r.bytes.dense)),
        el('td', { class: 'num', 'data-testid': 'sparsity-bytes' }, formatBytes(r.bytes.packed)))),
    el('div', { class: 'side-by-side' },
      el('div', {}, el('h3', {}, 'dense'), el('p', { class: 'gen', 'data-testid': 'sparsity-text-dense' }, el('strong', {}, r.text.prompt), r.text.dense)),
      el('div', {}, el('h3', {}, 'pruned'), el('p', { class: 'gen', 'data-testid': 'sparsity-text-pruned' }, el('strong', {}, r.text.prompt), r.text.pruned))),
    el('p', { class: 'status' }, `load ${formatSeconds(r.seconds.load)}, dense eval ${formatSeconds(r.seconds.dense)}, ` +
      `pruning ${formatSeconds(r.seconds.prune)}, pruned eval ${formatSeconds(r.seconds.pruned)}. Greedy decoding.`),
    el('details', {}, el('summary', {}, 'per-layer report'), el('table', { class: 'tensors' },
      el('tr', {}, el('th', {}, 'linear'), el('th', {}, 'shape'), el('th', {}, 'sparsity'), el('th', {}, 'rel. error (calibration)'), el('th', {}, 'bits/weight')), ...rows)),
  ];
}

export const sparsityLab: Lab = {
  id: 'sparsity',
  title: 'Sparsity',
  summary: 'Prune a language model to N:M or unstructured sparsity with magnitude, Wanda or SparseGPT, keep salient weights, correct the variance, and compare perplexity and text.',
  mount(root, { runner }) {
    const d = SPARSITY_DEFAULTS;
    const picker = sourcePicker('sparsity');
    const pattern = select('sparsity-pattern', [['2:4', '2:4'], ['4:8', '4:8'], ['8:16', '8:16'], ['16:32', '16:32'], ['unstructured', 'unstructured 50%']], d.pattern);
    const method = select('sparsity-method', [['magnitude', 'magnitude'], ['wanda', 'Wanda'], ['sparsegpt', 'SparseGPT']], d.method);
    const salient = select('sparsity-salient', [['0', 'none'], [String(1 / 32), '1/32 (1:32)'], [String(1 / 16), '1/16 (2:32)']], String(d.salientFraction));
    const correction = select('sparsity-correction', [['none', 'none'], ['data-free', 'variance, data-free'], ['data-driven', 'variance, data-driven']], d.varianceCorrection);
    const calib = numberInput('sparsity-calib', d.calibrationWindows, 1, 256);
    const pplWindows = numberInput('sparsity-ppl-windows', d.pplWindows, 1, 64);
    const seqlen = numberInput('sparsity-seqlen', d.seqlen, 8, 4096);
    const seed = numberInput('sparsity-seed', d.seed, 0, 2 ** 31);
    const prompt = el('input', { type: 'text', value: d.prompt, size: '30', 'data-testid': 'sparsity-prompt' });
    const tokens = numberInput('sparsity-tokens', d.maxNewTokens, 1, 256);
    const run = el('button', { type: 'button', 'data-testid': 'sparsity-run' }, 'Prune');
    const controls = new JobControls(runner, 'sparsity');
    const out = el('div', { class: 'result', 'data-testid': 'sparsity-result' });
    const layerSelect = el('select', { 'data-testid': 'sparsity-layer' });
    const heatmap = new MaskHeatmap('sparsity-heatmap');
    const maps = el('div', { class: 'maps' }, el('p', {}, el('label', {}, 'layer ', layerSelect)), heatmap.root);
    maps.hidden = true;

    run.addEventListener('click', () => {
      const source = picker.source();
      if (typeof source === 'string') {
        out.dataset.state = 'failed';
        out.replaceChildren(el('p', { class: 'error', 'data-testid': 'sparsity-error' }, source));
        return;
      }
      run.disabled = true;
      out.dataset.state = 'running';
      out.replaceChildren();
      void (async () => {
        let texts;
        try {
          texts = await textSlice();
        } catch (err) {
          run.disabled = false;
          out.dataset.state = 'failed';
          out.replaceChildren(el('p', { class: 'error', 'data-testid': 'sparsity-error' }, String(err)));
          return;
        }
        const params: SparsityParams = {
          source, texts, pattern: pattern.value, method: method.value as SparsityMethod, salientFraction: Number(salient.value),
          varianceCorrection: correction.value as SparsityCorrection, calibrationWindows: calib.valueAsNumber, pplWindows: pplWindows.valueAsNumber,
          seqlen: seqlen.valueAsNumber, seed: seed.valueAsNumber, prompt: prompt.value, maxNewTokens: tokens.valueAsNumber,
        };
        const o = await controls.run('sparsity', params);
        run.disabled = false;
        if (!o.ok) {
          out.dataset.state = o.cancelled ? 'cancelled' : 'failed';
          out.replaceChildren(el('p', { class: 'error', 'data-testid': 'sparsity-error' },
            o.cancelled ? 'Cancelled.' : `${o.error.code === undefined ? '' : `${o.error.code}: `}${o.error.message}`));
          return;
        }
        const r = o.result;
        Object.assign(out.dataset, {
          state: 'done', backend: r.backend, pruneBackend: r.pruneBackend, pplDense: String(r.dense.perplexity), pplPruned: String(r.pruned.perplexity),
          sparsity: String(r.sparsity), bits: String(r.bits.total), model: r.model.name,
        });
        maps.hidden = false;
        out.replaceChildren(...render(r, heatmap, layerSelect));
      })();
    });

    root.append(
      picker.root,
      el('p', {}, el('label', {}, 'pattern ', pattern), ' ', el('label', {}, 'method ', method), ' ', el('label', {}, 'salient ', salient), ' ',
        el('label', {}, 'correction ', correction)),
      el('p', {}, el('label', {}, 'calibration windows ', calib), ' ', el('label', {}, 'test windows ', pplWindows), ' ',
        el('label', {}, 'window ', seqlen), ' ', el('label', {}, 'seed ', seed)),
      el('p', {}, el('label', {}, 'prompt ', prompt), ' ', el('label', {}, 'new tokens ', tokens), ' ', run),
      el('p', { class: 'summary' }, 'Calibration windows come from a fixed slice of the Brown train split, perplexity from the first windows of a Brown test-split slice (both in data/brown-slice.json).'),
      controls.root, out, maps);
  },
};
