/** The checkpoint inspector: lists the tensors of the user's own model.safetensors, read locally in the worker. */
import { formatBytes, formatCount, formatShape } from '../format.js';
import { JobControls } from '../job-ui.js';
import { el, type Lab } from '../labs.js';
import type { InspectCheckpointParams, InspectCheckpointResult } from '../protocol.js';

function fileInput(testId: string, accept: string): HTMLInputElement {
  return el('input', { type: 'file', accept, 'data-testid': testId });
}

function render(r: InspectCheckpointResult): Node[] {
  const rows = r.tensors.map((t) => el('tr', {}, el('td', {}, t.name), el('td', {}, t.dtype), el('td', {}, formatShape(t.shape)),
    el('td', { class: 'num' }, formatBytes(t.bytes))));
  const parts: Node[] = [
    el('p', { 'data-testid': 'checkpoint-summary' }, `${r.fileName}: ${r.tensors.length} tensors, ${formatCount(r.parameters)} parameters, ` +
      `${formatBytes(r.tensorBytes)} of tensor data (file ${formatBytes(r.fileBytes)}, header ${formatBytes(r.headerBytes)}).`),
  ];
  const meta = Object.entries(r.metadata);
  if (meta.length > 0) parts.push(el('p', {}, `metadata: ${meta.map(([k, v]) => `${k}=${v}`).join(', ')}`));
  if (r.config !== undefined) {
    parts.push(el('p', { 'data-testid': 'checkpoint-config' }, `config.json: ${Object.entries(r.config).map(([k, v]) => `${k}=${String(v)}`).join(', ') || '(no known fields)'}`));
  }
  if (r.tokenizer !== undefined) {
    parts.push(el('p', { 'data-testid': 'checkpoint-tokenizer' }, `tokenizer.json: ${r.tokenizer.model}, ${formatCount(r.tokenizer.vocabSize)} tokens`));
  }
  parts.push(el('table', { class: 'tensors', 'data-testid': 'checkpoint-tensors' },
    el('tr', {}, el('th', {}, 'name'), el('th', {}, 'dtype'), el('th', {}, 'shape'), el('th', {}, 'bytes')), ...rows));
  return parts;
}

export const checkpointLab: Lab = {
  id: 'checkpoint',
  title: 'Load your own checkpoint',
  summary: 'Choose a model.safetensors (and optionally its config.json and tokenizer.json): it is read in this browser, never uploaded, and its tensors are listed.',
  mount(root, { runner }) {
    const model = fileInput('checkpoint-model', '.safetensors');
    const config = fileInput('checkpoint-config-file', '.json,application/json');
    const tokenizer = fileInput('checkpoint-tokenizer-file', '.json,application/json');
    const inspect = el('button', { type: 'button', 'data-testid': 'checkpoint-inspect' }, 'Inspect');
    const controls = new JobControls(runner, 'checkpoint');
    const out = el('div', { class: 'result', 'data-testid': 'checkpoint-result' });

    const go = (): void => {
      const file = model.files?.[0];
      if (file === undefined) {
        out.dataset.state = 'failed';
        out.replaceChildren(el('p', { class: 'error' }, 'Choose a model.safetensors file first.'));
        return;
      }
      const params: InspectCheckpointParams = { model: file };
      const c = config.files?.[0];
      const t = tokenizer.files?.[0];
      if (c !== undefined) params.config = c;
      if (t !== undefined) params.tokenizer = t;
      inspect.disabled = true;
      out.dataset.state = 'running';
      out.replaceChildren();
      void controls.run('inspect-checkpoint', params).then((o) => {
        inspect.disabled = false;
        if (o.ok) {
          out.dataset.state = 'done';
          out.replaceChildren(...render(o.result));
        } else {
          out.dataset.state = o.cancelled ? 'cancelled' : 'failed';
          out.replaceChildren(el('p', { class: 'error', 'data-testid': 'checkpoint-error' },
            o.cancelled ? 'Cancelled.' : `${o.error.code === undefined ? '' : `${o.error.code}: `}${o.error.message}`));
        }
      });
    };
    inspect.addEventListener('click', go);
    model.addEventListener('change', go);

    root.append(
      el('p', {}, el('label', {}, 'model.safetensors ', model)),
      el('p', {}, el('label', {}, 'config.json (optional) ', config), ' ', el('label', {}, 'tokenizer.json (optional) ', tokenizer)),
      el('p', {}, inspect), controls.root, out);
  },
};
