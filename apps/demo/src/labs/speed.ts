/** The speed check lab: matmul GFLOP/s and a Cholesky-based SPD inverse on the worker's backend. */
import { formatSeconds } from '../format.js';
import { JobControls } from '../job-ui.js';
import { el, type Lab } from '../labs.js';

function numberInput(testId: string, value: number, min: number, max: number): HTMLInputElement {
  return el('input', { type: 'number', value: String(value), min: String(min), max: String(max), step: '1', 'data-testid': testId });
}

/** Defaults of the speed check's inputs. */
export const SPEED_DEFAULTS = { size: 512, repeats: 5, seed: 0, spdSize: 256 } as const;

export const speedLab: Lab = {
  id: 'speed',
  title: 'Speed check',
  summary: 'Times a float32 matrix product and inverts an SPD matrix with tensor-core\'s Cholesky, in the worker, on the active backend.',
  mount(root, { runner }) {
    const size = numberInput('speed-size', SPEED_DEFAULTS.size, 1, 8192);
    const repeats = numberInput('speed-repeats', SPEED_DEFAULTS.repeats, 1, 10_000);
    const seed = numberInput('speed-seed', SPEED_DEFAULTS.seed, 0, 2 ** 31);
    const runMatmul = el('button', { type: 'button', 'data-testid': 'speed-run' }, 'Run matmul speed check');
    const spdSize = numberInput('spd-size', SPEED_DEFAULTS.spdSize, 1, 4096);
    const precision = el('select', { 'data-testid': 'spd-precision' }, el('option', { value: 'float32' }, 'float32 (on the backend)'),
      el('option', { value: 'float64' }, 'float64 (host)'));
    const runSpd = el('button', { type: 'button', 'data-testid': 'spd-run' }, 'Run SPD inverse');
    const controls = new JobControls(runner, 'speed');
    const out = el('div', { class: 'result', 'data-testid': 'speed-result' });
    const spdOut = el('div', { class: 'result', 'data-testid': 'spd-result' });
    const buttons = [runMatmul, runSpd];
    const busy = (b: boolean): void => { for (const x of buttons) x.disabled = b; };

    runMatmul.addEventListener('click', () => {
      busy(true);
      out.textContent = '';
      void controls.run('speed-check', { size: size.valueAsNumber, repeats: repeats.valueAsNumber, seed: seed.valueAsNumber }).then((o) => {
        busy(false);
        if (!o.ok) {
          out.dataset.state = o.cancelled ? 'cancelled' : 'failed';
          out.textContent = o.cancelled ? 'Cancelled.' : `Error: ${o.error.message}`;
          return;
        }
        const r = o.result;
        out.dataset.state = 'done';
        out.dataset.gflops = String(r.gflops);
        out.dataset.backend = r.backend;
        out.dataset.maxAbsError = String(r.maxAbsError);
        out.replaceChildren(
          el('p', {}, el('strong', {}, `${r.gflops.toFixed(2)} GFLOP/s`), ` on ${r.backend}: median of ${r.seconds.length} products of ` +
            `${r.size} x ${r.size} matrices (${r.seconds.map((s) => formatSeconds(s)).join(', ')}).`),
          el('p', {}, `Max |error| of a 64 x 64 product vs a float64 loop: ${r.maxAbsError.toExponential(2)}.`));
      });
    });

    runSpd.addEventListener('click', () => {
      busy(true);
      spdOut.textContent = '';
      const p = precision.value === 'float64' ? 'float64' : 'float32';
      void controls.run('spd-inverse', { size: spdSize.valueAsNumber, precision: p, seed: seed.valueAsNumber }).then((o) => {
        busy(false);
        if (!o.ok) {
          spdOut.dataset.state = o.cancelled ? 'cancelled' : 'failed';
          spdOut.textContent = o.cancelled ? 'Cancelled.' : `Error: ${o.error.message}`;
          return;
        }
        const r = o.result;
        spdOut.dataset.state = 'done';
        spdOut.dataset.residual = String(r.residual);
        spdOut.replaceChildren(el('p', {}, `Inverted a ${r.size} x ${r.size} SPD matrix (${r.precision}, ${r.backend}) in ` +
          `${formatSeconds(r.seconds)}; max |A · A⁻¹ − I| = ${r.residual.toExponential(2)}.`));
      });
    });

    root.append(
      el('p', {}, el('label', {}, 'n ', size), ' ', el('label', {}, 'repeats ', repeats), ' ', el('label', {}, 'seed ', seed), ' ', runMatmul),
      el('p', {}, el('label', {}, 'SPD n ', spdSize), ' ', el('label', {}, 'precision ', precision), ' ', runSpd),
      controls.root, out, spdOut);
  },
};
