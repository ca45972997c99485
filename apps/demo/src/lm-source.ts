/**
 * What the language-model labs share: the choice between the bundled `small` checkpoint and the user's own files
 * (read in the worker, never uploaded), and the fixed Brown text slice (`public/data/brown-slice.json`).
 */
import { el } from './labs.js';
import type { LmSource, TextSlice } from './protocol.js';

/** URL of the bundled checkpoint's folder (copied from `public/models/small/` into the site). */
export function bundledModelUrl(): string {
  return new URL('models/small/', document.baseURI).href;
}

let slice: Promise<TextSlice> | undefined;

/** The calibration and test text, fetched once. */
export function textSlice(): Promise<TextSlice> {
  slice ??= fetch(new URL('data/brown-slice.json', document.baseURI).href).then(async (r) => {
    if (!r.ok) throw new Error(`could not fetch data/brown-slice.json: HTTP ${r.status}`);
    const j = await r.json() as { calibration: { text: string }; test: { text: string } };
    return { calibration: j.calibration.text, test: j.test.text };
  });
  return slice;
}

/** A model picker: a radio between the bundled model and three file inputs. */
export interface SourcePicker {
  root: HTMLElement;
  /** The chosen source, or an error message when the user's files are incomplete. */
  source(): LmSource | string;
}

/** Builds a picker whose elements have `data-testid`s `${prefix}-source-bundled`, `${prefix}-source-files`, `${prefix}-model-file`, ... */
export function sourcePicker(prefix: string): SourcePicker {
  const name = `${prefix}-source`;
  const bundled = el('input', { type: 'radio', name, value: 'bundled', 'data-testid': `${prefix}-source-bundled` });
  bundled.checked = true;
  const own = el('input', { type: 'radio', name, value: 'files', 'data-testid': `${prefix}-source-files` });
  const model = el('input', { type: 'file', accept: '.safetensors', 'data-testid': `${prefix}-model-file` });
  const config = el('input', { type: 'file', accept: '.json,application/json', 'data-testid': `${prefix}-config-file` });
  const tokenizer = el('input', { type: 'file', accept: '.json,application/json', 'data-testid': `${prefix}-tokenizer-file` });
  const files = el('div', { class: 'files' },
    el('label', {}, 'model.safetensors ', model), ' ', el('label', {}, 'config.json ', config), ' ', el('label', {}, 'tokenizer.json ', tokenizer));
  const sync = (): void => { files.hidden = !own.checked; };
  for (const f of [model, config, tokenizer]) f.addEventListener('change', () => { own.checked = true; sync(); });
  bundled.addEventListener('change', sync);
  own.addEventListener('change', sync);
  sync();
  const root = el('div', { class: 'source' },
    el('label', {}, bundled, ' the bundled ', el('code', {}, 'small'), ' model (Llama, 4 layers, d = 256, 4.0 M parameters, F16)'), ' ',
    el('label', {}, own, ' your own checkpoint (read in this page, never uploaded)'), files);
  return {
    root,
    source() {
      if (!own.checked) return { kind: 'bundled', url: bundledModelUrl() };
      const m = model.files?.[0];
      const c = config.files?.[0];
      const t = tokenizer.files?.[0];
      if (m === undefined || c === undefined || t === undefined) return 'Choose all three files: model.safetensors, config.json and tokenizer.json.';
      return { kind: 'files', model: m, config: c, tokenizer: t };
    },
  };
}

/** A labelled `<select>` with a `data-testid`. */
export function select(testId: string, options: [string, string][], value: string): HTMLSelectElement {
  const s = el('select', { 'data-testid': testId }, ...options.map(([v, label]) => el('option', { value: v }, label)));
  s.value = value;
  return s;
}

/** A labelled number input with a `data-testid`. */
export function numberInput(testId: string, value: number, min: number, max: number, step = 1): HTMLInputElement {
  return el('input', { type: 'number', value: String(value), min: String(min), max: String(max), step: String(step), 'data-testid': testId });
}
