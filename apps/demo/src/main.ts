/**
 * The demo page: a backend panel and the registered labs, all sharing one compute worker.
 * `?backend=webgpu|wasm|cpu|auto` picks the backend at load (default `auto`).
 */
import './style.css';
import { createBackendPanel } from './backend-panel.js';
import { LabRegistry, type LabContext } from './labs.js';
import { checkpointLab } from './labs/checkpoint.js';
import { eventSeqLab } from './labs/eventseq.js';
import { salienceLab } from './labs/salience.js';
import { sparsityLab } from './labs/sparsity.js';
import { speedLab } from './labs/speed.js';
import { isBackendChoice, type BackendChoice } from './protocol.js';
import { WorkerRunner } from './runner.js';

/** The labs, in page order. */
const LABS = new LabRegistry().register(sparsityLab).register(salienceLab).register(eventSeqLab).register(speedLab).register(checkpointLab);

const app = document.getElementById('app');
if (app === null) throw new Error('index.html has no #app element');

const fromUrl = new URLSearchParams(location.search).get('backend');
const initial: BackendChoice = isBackendChoice(fromUrl) ? fromUrl : 'auto';
// The tfjs .wasm files are copied next to index.html by vite.config.ts (`tfjs-wasm/`).
const runner = new WorkerRunner({ wasmPaths: new URL('tfjs-wasm/', document.baseURI).href });
const ctx: LabContext = { runner, backend: undefined };

async function startOn(choice: BackendChoice): Promise<void> {
  panel.showStarting(choice);
  try {
    const ready = await runner.start(choice);
    ctx.backend = ready;
    panel.showReady(ready);
    LABS.backendChanged(ready);
    const url = new URL(location.href);
    url.searchParams.set('backend', choice);
    history.replaceState(null, '', url);
  } catch (err) {
    panel.showError(err instanceof Error ? err.message : String(err));
  }
}

const panel = createBackendPanel(initial, (choice) => { void startOn(choice); });
const labs = document.createElement('div');
labs.id = 'labs';
app.append(panel.root, labs);
LABS.mountAll(labs, ctx);
void startOn(initial);
