/** The backend panel: which backend the worker runs, why, every backend's status, and a switch. */
import { el } from './labs.js';
import { BACKEND_CHOICES, type BackendChoice } from './protocol.js';
import type { WorkerReady } from './runner.js';

/** The panel's DOM and its update function. */
export interface BackendPanel {
  root: HTMLElement;
  /** Shows a started backend. */
  showReady(ready: WorkerReady): void;
  /** Shows that the worker is (re)starting on `choice`. */
  showStarting(choice: BackendChoice): void;
  /** Shows that no backend could start. */
  showError(message: string): void;
}

/** Builds the panel; `onSwitch` is called with the backend the user picked. */
export function createBackendPanel(initial: BackendChoice, onSwitch: (choice: BackendChoice) => void): BackendPanel {
  const select = el('select', { 'data-testid': 'backend-select', 'aria-label': 'backend' });
  for (const c of BACKEND_CHOICES) select.append(el('option', { value: c }, c === 'auto' ? 'auto (best available)' : c));
  select.value = initial;
  const restart = el('button', { type: 'button', 'data-testid': 'backend-restart' }, 'Restart on this backend');
  restart.addEventListener('click', () => { onSwitch(select.value as BackendChoice); });
  const name = el('strong', { 'data-testid': 'backend-name' }, '…');
  const device = el('span', { 'data-testid': 'backend-device' });
  const why = el('ul', { class: 'why', 'data-testid': 'backend-why' });
  const table = el('table', { class: 'env', 'data-testid': 'backend-env' });
  const state = el('span', { class: 'status', 'data-testid': 'backend-state' }, 'starting');
  const root = el('section', { class: 'panel', id: 'backend' },
    el('h2', {}, 'Backend'),
    el('p', {}, 'Active: ', name, ' — ', device, ' ', state),
    why,
    el('p', {}, el('label', {}, 'Switch to ', select), ' ', restart),
    el('details', {}, el('summary', {}, 'Every backend in this browser'), table));

  return {
    root,
    showStarting(choice) {
      state.textContent = `starting ${choice}…`;
      root.dataset.state = 'starting';
      select.value = choice;
      restart.disabled = true;
    },
    showError(message) {
      state.textContent = 'failed';
      root.dataset.state = 'failed';
      name.textContent = 'none';
      device.textContent = '';
      why.replaceChildren(el('li', { class: 'error' }, message));
      restart.disabled = false;
    },
    showReady({ choice, info, environment }) {
      name.textContent = info.name;
      // info.device already says "software" and the wasm SIMD/thread facts; add what it does not.
      device.textContent = `${info.device}${info.float16 ? ' (shader-f16)' : ''}${info.software ? ': correct but slow' : ''}`;
      state.textContent = 'ready';
      root.dataset.state = 'ready';
      restart.disabled = false;
      const reasons = [
        el('li', {}, choice === 'auto'
          ? `Chosen automatically (order ${environment.runtime === 'browser' ? 'webgpu, wasm, cpu' : 'cuda, webgpu, wasm, cpu'}).`
          : `Asked for explicitly (${choice}).`),
        ...info.fallbacks.map((f) => el('li', {}, `${f.name} skipped: ${f.reason}${f.fix === undefined ? '' : ` — ${f.fix}`}`)),
      ];
      if (info.threadsReason !== undefined) reasons.push(el('li', {}, `threads: ${info.threadsReason}`));
      why.replaceChildren(...reasons);
      table.replaceChildren(el('tr', {}, el('th', {}, 'backend'), el('th', {}, 'available'), el('th', {}, 'device or reason')),
        ...environment.backends.filter((b) => b.name !== 'cuda' && b.name !== 'tensorflow').map((b) => el('tr', { 'data-backend': b.name },
          el('td', {}, b.name), el('td', {}, b.available ? 'yes' : 'no'),
          el('td', {}, b.available ? `${b.device ?? ''}${b.software === true ? ' (software)' : ''}` : `${b.reason ?? ''}${b.fix === undefined ? '' : ` — ${b.fix}`}`))));
    },
  };
}
