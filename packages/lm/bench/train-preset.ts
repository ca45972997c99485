// Trains an @sift/lm preset on the Brown corpus and saves a Hugging Face checkpoint.
//   pnpm --filter @sift/lm train-preset small [outDir] [steps]
// Rerun the same command to resume after an interruption (the run checkpoints every `checkpointEvery` steps).
import { initBackend } from '@sift/backend';
import { PRESETS, trainPreset, type PresetName } from '@sift/lm';

const [name = 'small', outDir = `models/${name}`] = process.argv.slice(2);
const steps = process.argv.at(4);
if (!(name in PRESETS)) throw new Error(`unknown preset "${name}"; presets: ${Object.keys(PRESETS).join(', ')}`);
const info = await initBackend({ prefer: ['wasm'] });
process.stdout.write(`backend ${info.name}, ${info.threads} thread(s); training "${name}" into ${outDir}\n`);
const report = await trainPreset(name as PresetName, { outDir, ...(steps === undefined ? {} : { train: { steps: Number(steps) } }) }, {
  onProgress: (p) => {
    const val = p.valLoss === undefined ? '' : `  val ${p.valLoss.toFixed(3)} (ppl ${Math.exp(p.valLoss).toFixed(1)})`;
    process.stdout.write(`step ${p.step}/${p.totalSteps}  loss ${p.loss.toFixed(3)}  lr ${p.lr.toExponential(2)}  ` +
      `${p.tokensPerSecond.toFixed(0)} tok/s  eta ${(p.etaSeconds / 60).toFixed(1)} min${val}\n`);
  },
});
process.stdout.write(`done: ${report.parameters.total} parameters, validation perplexity ${report.training.valPerplexity?.toFixed(2) ?? 'n/a'}, ` +
  `${report.training.tokensPerSecond.toFixed(0)} tok/s; checkpoint in ${outDir}\n`);
