/**
 * The Salience & GIFT-SW lab: per-column sensitivity s_j of one linear of the model (`@sift/salience`'s generalized
 * metric through `@sift/gift-sw`'s `selectSalientColumns`), the k salient columns picked, and a few live fine-tuning
 * steps that train only those columns (`applyGiftSw`, `fineTune`), with the loss curve.
 */
import { drawBars, drawLines } from '../charts.js';
import { formatCount, formatSeconds } from '../format.js';
import { JobControls } from '../job-ui.js';
import { el, type Lab } from '../labs.js';
import { numberInput, select, sourcePicker, textSlice } from '../lm-source.js';
import type { SalienceParams } from '../protocol.js';

/** Defaults of the lab's inputs. */
export const SALIENCE_DEFAULTS = { metric: 'gift-sw' as SalienceParams['metric'], k: 8, steps: 8, lr: 1e-2, calibrationWindows: 4, seqlen: 64, seed: 0 };

export const salienceLab: Lab = {
  id: 'salience',
  title: 'Salience & GIFT-SW',
  summary: 'Score every input column of a linear by GIFT-SW\'s metric ‖D_j‖·‖X_j‖, pick the salient ones, and fine-tune only them for a few steps.',
  mount(root, { runner }) {
    const d = SALIENCE_DEFAULTS;
    const picker = sourcePicker('salience');
    const layer = el('select', { 'data-testid': 'salience-layer' }, el('option', { value: '' }, 'first linear (run once to list them all)'));
    const metric = select('salience-metric', [['gift-sw', 'GIFT-SW ‖D_j‖∞·‖X_j‖∞'], ['quik', 'QUIK ‖X_j‖∞'], ['owq', 'OWQ ‖D_j‖₂²‖X_j‖₂²'], ['wanda', 'Wanda Σ|W_ij|·‖X_j‖₂']], d.metric);
    const k = numberInput('salience-k', d.k, 1, 4096);
    const steps = numberInput('salience-steps', d.steps, 0, 1000);
    const lr = numberInput('salience-lr', d.lr, 1e-6, 1, 1e-4);
    const seed = numberInput('salience-seed', d.seed, 0, 2 ** 31);
    const run = el('button', { type: 'button', 'data-testid': 'salience-run' }, 'Score and fine-tune');
    const controls = new JobControls(runner, 'salience');
    const out = el('div', { class: 'result', 'data-testid': 'salience-result' });
    const bars = el('canvas', { width: '640', height: '180', 'data-testid': 'salience-scores' });
    const curve = el('canvas', { width: '640', height: '180', 'data-testid': 'salience-loss' });
    const charts = el('div', {}, el('h3', {}, 'column scores s_j (salient in red)'), bars, el('h3', {}, 'fine-tuning loss on the batch (4 calibration windows of 64 tokens), nats/token'), curve);
    charts.hidden = true;

    run.addEventListener('click', () => {
      const source = picker.source();
      if (typeof source === 'string') {
        out.dataset.state = 'failed';
        out.replaceChildren(el('p', { class: 'error' }, source));
        return;
      }
      run.disabled = true;
      out.dataset.state = 'running';
      out.replaceChildren();
      void (async () => {
        const params: SalienceParams = {
          source, texts: await textSlice(), layer: layer.value, metric: metric.value as SalienceParams['metric'], k: k.valueAsNumber,
          steps: steps.valueAsNumber, lr: lr.valueAsNumber, calibrationWindows: d.calibrationWindows, seqlen: d.seqlen, seed: seed.valueAsNumber,
        };
        const o = await controls.run('salience', params);
        run.disabled = false;
        if (!o.ok) {
          out.dataset.state = o.cancelled ? 'cancelled' : 'failed';
          out.replaceChildren(el('p', { class: 'error', 'data-testid': 'salience-error' },
            o.cancelled ? 'Cancelled.' : `${o.error.code === undefined ? '' : `${o.error.code}: `}${o.error.message}`));
          return;
        }
        const r = o.result;
        const chosen = r.layer;
        layer.replaceChildren(...r.linears.map((l) => el('option', { value: l.name }, `${l.name} [${l.rows} x ${l.cols}]`)));
        layer.value = chosen;
        Object.assign(out.dataset, { state: 'done', backend: r.backend, layer: r.layer, salient: r.salient.join(','), steps: String(r.losses.length) });
        charts.hidden = false;
        drawBars(bars, r.scores, new Set(r.salient), 'input column j');
        if (r.losses.length > 0) drawLines(curve, [{ values: r.losses, color: '#d72d2d', label: 'GIFT-SW loss' }], 'step');
        out.replaceChildren(
          el('p', {}, `${r.layer} [${r.rows} x ${r.cols}] of ${r.model.name} on ${r.backend}, metric ${r.metric}: salient columns `,
            el('strong', { 'data-testid': 'salience-columns' }, r.salient.join(', ')), '.'),
          el('p', {}, r.losses.length === 0 ? 'No fine-tuning steps.' :
            `${r.losses.length} steps training ${formatCount(r.trainableParams)} of ${formatCount(r.totalParams)} parameters ` +
            `(${formatSeconds(r.msPerStep / 1000)} per step): loss ${r.losses[0].toFixed(3)} → ${r.losses[r.losses.length - 1].toFixed(3)}.`));
      })();
    });

    root.append(
      picker.root,
      el('p', {}, el('label', {}, 'layer ', layer), ' ', el('label', {}, 'metric ', metric)),
      el('p', {}, el('label', {}, 'k ', k), ' ', el('label', {}, 'steps ', steps), ' ', el('label', {}, 'learning rate ', lr), ' ',
        el('label', {}, 'seed ', seed), ' ', run),
      controls.root, out, charts);
  },
};
