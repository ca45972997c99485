/**
 * The extension point for labs. A lab is a section of the page that owns its DOM and runs its long work through the
 * shared `WorkerRunner`. The Sparsity, Salience & GIFT-SW and Event-sequence labs plug in here once their packages
 * (`@sift/nm-sparsity`, `@sift/salience`, `@sift/gift-sw`, `@sift/lm`, `@sift/eventseq-ssl`) are ready:
 * add their jobs to `DemoJobs` (protocol.ts) and `WORKER_JOBS` (worker-jobs.ts), and a `Lab` to `LABS` (main.ts).
 */
import type { WorkerReady, WorkerRunner } from './runner.js';

/** What a lab gets when it mounts. */
export interface LabContext {
  /** The shared compute worker. */
  runner: WorkerRunner;
  /** The worker's current backend (updated on every restart through `onBackendChange`). */
  backend: WorkerReady | undefined;
}

/** One lab of the demo. */
export interface Lab {
  /** Stable id: the section's DOM id and `data-lab` attribute, e.g. `speed`. */
  id: string;
  /** Heading shown on the page. */
  title: string;
  /** One sentence: what the lab shows. */
  summary: string;
  /** Builds the lab's UI inside `root` (an empty element it owns). */
  mount(root: HTMLElement, ctx: LabContext): void;
  /** Called after the worker restarted on another backend. */
  onBackendChange?(ready: WorkerReady): void;
}

/** Labs by id, in page order. */
export class LabRegistry {
  private readonly labs = new Map<string, Lab>();

  /** Adds a lab; throws on a duplicate id. */
  register(lab: Lab): this {
    if (this.labs.has(lab.id)) throw new Error(`a lab with id "${lab.id}" is already registered`);
    this.labs.set(lab.id, lab);
    return this;
  }

  /** The labs in registration order. */
  list(): Lab[] {
    return [...this.labs.values()];
  }

  /** Mounts every lab into its own `<section>` under `container`. */
  mountAll(container: HTMLElement, ctx: LabContext): void {
    for (const lab of this.labs.values()) {
      const section = el('section', { class: 'lab', id: `lab-${lab.id}`, 'data-lab': lab.id });
      section.append(el('h2', {}, lab.title), el('p', { class: 'summary' }, lab.summary));
      const body = el('div', { class: 'lab-body' });
      section.append(body);
      container.append(section);
      lab.mount(body, ctx);
    }
  }

  /** Tells every lab the backend changed. */
  backendChanged(ready: WorkerReady): void {
    for (const lab of this.labs.values()) lab.onBackendChange?.(ready);
  }
}

/** Creates an element with attributes and children (a tiny `h`). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}
