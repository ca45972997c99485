/**
 * The Event-sequences lab: synthetic clients with known latent classes, CoLES or MLEM trained for a few epochs in the
 * worker, a 2-D UMAP map of the embeddings coloured by the latent class, and probe accuracy.
 */
import { drawLines, drawScatter } from '../charts.js';
import { formatCount, formatSeconds } from '../format.js';
import { JobControls } from '../job-ui.js';
import { el, type Lab } from '../labs.js';
import { numberInput, select } from '../lm-source.js';
import type { EventSeqParams } from '../protocol.js';

/** Defaults of the lab's inputs. */
export const EVENTSEQ_DEFAULTS: EventSeqParams = { method: 'coles', clients: 200, epochs: 3, hiddenSize: 16, seed: 0 };

export const eventSeqLab: Lab = {
  id: 'eventseq',
  title: 'Event sequences',
  summary: 'Generate synthetic clients whose events carry two latent labels, learn embeddings with CoLES or MLEM, map them to 2-D with UMAP and probe them.',
  mount(root, { runner }) {
    const d = EVENTSEQ_DEFAULTS;
    const method = select('eventseq-method', [['coles', 'CoLES (contrastive)'], ['mlem', 'MLEM (CoLES, then generative aligned to it)']], d.method);
    const clients = numberInput('eventseq-clients', d.clients, 20, 5000);
    const epochs = numberInput('eventseq-epochs', d.epochs, 1, 100);
    const hidden = numberInput('eventseq-hidden', d.hiddenSize, 2, 512);
    const seed = numberInput('eventseq-seed', d.seed, 0, 2 ** 31);
    const run = el('button', { type: 'button', 'data-testid': 'eventseq-run' }, 'Train');
    const controls = new JobControls(runner, 'eventseq');
    const out = el('div', { class: 'result', 'data-testid': 'eventseq-result' });
    const map = el('canvas', { width: '480', height: '400', 'data-testid': 'eventseq-map' });
    const curve = el('canvas', { width: '480', height: '160', 'data-testid': 'eventseq-loss' });
    const charts = el('div', {}, el('h3', {}, 'UMAP of the embeddings, coloured by the latent composition class'), map,
      el('h3', {}, 'mean training loss per epoch'), curve);
    charts.hidden = true;

    run.addEventListener('click', () => {
      run.disabled = true;
      out.dataset.state = 'running';
      out.replaceChildren();
      const params: EventSeqParams = {
        method: method.value === 'mlem' ? 'mlem' : 'coles', clients: clients.valueAsNumber, epochs: epochs.valueAsNumber,
        hiddenSize: hidden.valueAsNumber, seed: seed.valueAsNumber,
      };
      void controls.run('eventseq', params).then((o) => {
        run.disabled = false;
        if (!o.ok) {
          out.dataset.state = o.cancelled ? 'cancelled' : 'failed';
          out.replaceChildren(el('p', { class: 'error', 'data-testid': 'eventseq-error' },
            o.cancelled ? 'Cancelled.' : `${o.error.code === undefined ? '' : `${o.error.code}: `}${o.error.message}`));
          return;
        }
        const r = o.result;
        const probe = (label: string): number => r.probes.find((p) => p.label === label)?.accuracy ?? Number.NaN;
        Object.assign(out.dataset, {
          state: 'done', backend: r.backend, points: String(r.classes.length), composition: String(probe('composition')), dynamics: String(probe('dynamics')),
        });
        charts.hidden = false;
        drawScatter(map, r.map, r.classes, r.numClasses);
        drawLines(curve, [{ values: r.epochLoss, color: '#0072b2', label: r.method === 'mlem' ? 'MLEM' : 'CoLES' }], 'epoch');
        out.replaceChildren(
          el('p', {}, `${r.method === 'mlem' ? 'MLEM' : 'CoLES'} on ${r.backend}: ${formatCount(r.clients)} clients, ${formatCount(r.events)} events, ` +
            `${r.dim}-dimensional embeddings; training ${formatSeconds(r.seconds.train)}, map ${formatSeconds(r.seconds.map)}.`),
          el('table', { class: 'tensors', 'data-testid': 'eventseq-probes' },
            el('tr', {}, el('th', {}, 'latent label'), el('th', {}, 'logistic probe accuracy (30% held out)'), el('th', {}, 'chance')),
            ...r.probes.map((p) => el('tr', {}, el('td', {}, p.label), el('td', { class: 'num' }, p.accuracy.toFixed(3)), el('td', { class: 'num' }, p.chance.toFixed(3))))));
      });
    });

    root.append(
      el('p', {}, el('label', {}, 'method ', method), ' ', el('label', {}, 'clients ', clients), ' ', el('label', {}, 'epochs ', epochs), ' ',
        el('label', {}, 'GRU size ', hidden), ' ', el('label', {}, 'seed ', seed), ' ', run),
      controls.root, out, charts);
  },
};
