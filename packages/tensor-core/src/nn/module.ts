import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import { registerGradients } from './gradients.js';
import { checkPatterns, passesFilter, type NameFilter, type NamePattern } from './pattern.js';

/** A trainable tensor: a `tf.Variable` whose `trainable` flag says whether optimizers update it. */
export type Parameter = tf.Variable;

/**
 * Called after a module's `forward` with its inputs and output. It runs synchronously inside the caller's scope
 * (usually a `tf.tidy`), so the tensors it sees are disposed when that scope ends: consume them right away (update
 * an accumulator, e.g. a Gram matrix X^T X) or `tf.keep` what must survive. It must not dispose them.
 */
export type ForwardHook<M, I extends unknown[], O> = (module: M, inputs: I, output: O) => void;

/**
 * Transforms a parameter's gradient before the optimizer sees it (e.g. multiplies by a fixed 0/1 mask so pruned
 * weights stay pruned). Applied by `valueAndGrads`; it returns a new tensor and must not dispose `grad`.
 */
export type GradHook = (grad: tf.Tensor, name: string) => tf.Tensor;

/** A state dict: full dotted names to tensors (parameters, then persistent buffers, then children, recursively). */
export type StateDict = Record<string, tf.Tensor>;

/** Options of `Module.loadStateDict`. */
export interface LoadStateDictOptions {
  /** Throw when a key is missing or unexpected (default true). Shape and dtype mismatches always throw. */
  strict?: boolean;
}

/** What `loadStateDict` did. */
export interface LoadStateDictReport {
  /** Keys the module has but the state dict lacked (left unchanged). */
  missingKeys: string[];
  /** Keys of the state dict that the module does not have (ignored). */
  unexpectedKeys: string[];
  /** Keys that were loaded. */
  loadedKeys: string[];
}

/** The argument of `freeze`/`unfreeze`: all parameters, those matching patterns, or an include/exclude filter. */
export type ParamSelector = NamePattern | readonly NamePattern[] | NameFilter;

interface BufferEntry {
  tensor: tf.Tensor;
  persistent: boolean;
}

type AnyForward = (...inputs: unknown[]) => unknown;
/** Hooks are stored untyped so that `Module<I, O>` stays assignable to `Module` for every I, O. */
type StoredHook = (module: unknown, inputs: unknown, output: unknown) => void;

const NAME_RE = /^[^.\s]+$/;

function isTensorMap(x: StateDict | ReadonlyMap<string, tf.Tensor>): x is ReadonlyMap<string, tf.Tensor> {
  return x instanceof Map;
}

function toFilter(sel: ParamSelector | undefined): NameFilter {
  if (sel === undefined) return {};
  if (typeof sel === 'string' || sel instanceof RegExp || Array.isArray(sel)) {
    checkPatterns('freeze/unfreeze', sel);
    return { include: sel as NamePattern | readonly NamePattern[] };
  }
  return sel as NameFilter;
}

/**
 * The base of every layer and model: named parameters (`tf.Variable`s with a `trainable` flag), named buffers
 * (non-trained tensors such as masks), and named child modules, like PyTorch's `nn.Module`. Paths are dotted
 * (`h.3.mlp.c_fc.weight`), so checkpoints keep Hugging Face names.
 *
 * Subclasses register what they own in the constructor (`addParameter`, `addBuffer`, `addModule`) and implement
 * `forward` as a METHOD (not an arrow-function field, so that hooks can wrap it). A child stored in a field of the
 * same object is re-pointed by `replace()`, so `this.c_fc.forward(x)` keeps working after surgery.
 *
 * `forward` may be called inside or outside `tf.tidy`: layers run their own intermediate ops in a tidy.
 *
 * @example
 * class Mlp extends Module<[tf.Tensor], tf.Tensor> {
 *   readonly c_fc: Linear;
 *   readonly c_proj: Linear;
 *   constructor(d: number, rng: Rng) {
 *     super();
 *     this.c_fc = this.addModule('c_fc', new Linear({ inFeatures: d, outFeatures: 4 * d, rng }));
 *     this.c_proj = this.addModule('c_proj', new Linear({ inFeatures: 4 * d, outFeatures: d, rng }));
 *   }
 *   override forward(x: tf.Tensor): tf.Tensor {
 *     return tf.tidy(() => this.c_proj.forward(geluTanh(this.c_fc.forward(x))));
 *   }
 * }
 */
export class Module<I extends unknown[] = unknown[], O = unknown> {
  /** Training mode: dropout and other train-only behaviour are active. Set with `train()` / `eval()`. */
  training = true;
  private readonly params = new Map<string, Parameter>();
  private readonly buffers = new Map<string, BufferEntry>();
  private readonly children = new Map<string, Module>();
  private readonly forwardHooks: StoredHook[] = [];
  private readonly gradHooks = new Map<string, GradHook[]>();

  constructor() {
    registerGradients();
  }

  /**
   * The computation. The base class has none (containers such as `ModuleList`); layers override it.
   * @throws SiftError `E_UNSUPPORTED` when called on a module without one.
   */
  forward(..._inputs: I): O {
    throw new SiftError('E_UNSUPPORTED', `${this.constructor.name}.forward: this module has no forward(); call its ` +
      `children (${[...this.children.keys()].join(', ') || 'none'}) instead.`);
  }

  // ---------------------------------------------------------------- registration

  private checkName(kind: string, name: string): void {
    if (!NAME_RE.test(name)) {
      throw new SiftError('E_CONFIG', `${this.constructor.name}: ${kind} name "${name}" must be non-empty without ` +
        'dots or spaces (dots separate path segments).');
    }
    if (this.params.has(name) || this.buffers.has(name) || this.children.has(name)) {
      throw new SiftError('E_CONFIG', `${this.constructor.name}: the name "${name}" is already used by a parameter, ` +
        'buffer or child of this module. Pick another name.');
    }
  }

  /**
   * Registers a parameter. A plain tensor becomes a new `tf.Variable` and is disposed (the variable owns the data); a
   * `tf.Variable` is registered as is (this shares it, e.g. tied embeddings).
   * @param options.trainable default true
   */
  protected addParameter(name: string, value: tf.Tensor, options: { trainable?: boolean } = {}): Parameter {
    this.checkName('parameter', name);
    const trainable = options.trainable ?? true;
    let v: Parameter;
    if (value instanceof tf.Variable) {
      v = value as Parameter;
      v.trainable = trainable;
    } else {
      v = tf.variable(value, trainable);
      value.dispose();
    }
    this.params.set(name, v);
    return v;
  }

  /**
   * Registers a buffer: a tensor the module owns that optimizers never update (masks, permutations, tables).
   * The tensor is `tf.keep`-ed and owned by the module from now on.
   * @param options.persistent include it in `stateDict()` (default true)
   */
  protected addBuffer(name: string, tensor: tf.Tensor, options: { persistent?: boolean } = {}): tf.Tensor {
    this.checkName('buffer', name);
    this.buffers.set(name, { tensor: tf.keep(tensor), persistent: options.persistent ?? true });
    return tensor;
  }

  /** Replaces a registered buffer's tensor (same name); the old one is disposed, the new one kept. */
  protected setBuffer(name: string, tensor: tf.Tensor): void {
    const entry = this.buffers.get(name);
    if (entry === undefined) {
      throw new SiftError('E_CONFIG', `${this.constructor.name}.setBuffer: no buffer "${name}"; register it with addBuffer first.`);
    }
    if (entry.tensor !== tensor) {
      entry.tensor.dispose();
      entry.tensor = tf.keep(tensor);
    }
  }

  /** A buffer of this module by name. */
  protected buffer(name: string): tf.Tensor {
    const entry = this.buffers.get(name);
    if (entry === undefined) {
      throw new SiftError('E_CONFIG', `${this.constructor.name}: no buffer "${name}" (buffers: ${[...this.buffers.keys()].join(', ') || 'none'}).`);
    }
    return entry.tensor;
  }

  /** Registers a child module under `name` and returns it (store it in a field of the same name). */
  protected addModule<M extends Module>(name: string, module: M): M {
    this.checkName('child', name);
    if (!(module instanceof Module)) {
      throw new SiftError('E_CONFIG', `${this.constructor.name}.addModule("${name}"): expected a Module, got ${typeof module}.`);
    }
    this.children.set(name, module);
    return module;
  }

  /** One of this module's own parameters by name (`weight`, `bias`, ...). */
  param(name: string): Parameter {
    const v = this.params.get(name);
    if (v === undefined) {
      throw new SiftError('E_CONFIG', `${this.constructor.name}: no parameter "${name}" ` +
        `(own parameters: ${[...this.params.keys()].join(', ') || 'none'}).`);
    }
    return v;
  }

  /** True when this module has its own parameter `name`. */
  hasParameter(name: string): boolean {
    return this.params.has(name);
  }

  // ---------------------------------------------------------------- traversal

  /** Direct children as `[name, module]`, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.children.entries()];
  }

  /**
   * Every module of the tree as `[path, module]`, depth first, this module first with path `''` (like PyTorch's
   * `named_modules()`).
   */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.children) out.push(...child.namedModules(prefix === '' ? name : `${prefix}.${name}`));
    return out;
  }

  /**
   * Every parameter as `[path, variable]` (`h.0.attn.q_proj.weight`), own parameters first, then children's.
   * A variable shared under two names appears once, under its first name.
   * @param options.trainableOnly only those with `trainable === true`
   */
  namedParameters(options: { trainableOnly?: boolean } = {}): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    for (const [path, m] of this.namedModules()) {
      for (const [name, v] of m.params) {
        if (seen.has(v)) continue;
        seen.add(v);
        if (options.trainableOnly === true && !v.trainable) continue;
        out.push([path === '' ? name : `${path}.${name}`, v]);
      }
    }
    return out;
  }

  /** The parameters without names (see `namedParameters`). */
  parameters(options: { trainableOnly?: boolean } = {}): Parameter[] {
    return this.namedParameters(options).map(([, v]) => v);
  }

  /** Every buffer as `[path, tensor]` (persistent and not). */
  namedBuffers(): [string, tf.Tensor][] {
    const out: [string, tf.Tensor][] = [];
    for (const [path, m] of this.namedModules()) {
      for (const [name, b] of m.buffers) out.push([path === '' ? name : `${path}.${name}`, b.tensor]);
    }
    return out;
  }

  /** Number of scalar parameters (all, or trainable only). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    return this.parameters(options).reduce((n, v) => n + v.size, 0);
  }

  private splitPath(path: string): string[] {
    return path === '' ? [] : path.split('.');
  }

  /**
   * The module at a dotted path (`'h.3.mlp.c_fc'`; `''` is this module).
   * @param type optional class: throws unless the module is an instance of it (and narrows the type)
   * @throws SiftError `E_CONFIG` naming the missing segment and the children that exist there
   */
  getModule(path: string): Module;
  getModule<M extends Module>(path: string, type: abstract new (...args: never[]) => M): M;
  getModule<M extends Module>(path: string, type?: abstract new (...args: never[]) => M): Module | M {
    const parts = this.splitPath(path);
    const m = parts.reduce<Module>((cur, part, i) => {
      const next = cur.children.get(part);
      if (next === undefined) {
        const at = parts.slice(0, i).join('.') || '(root)';
        throw new SiftError('E_CONFIG', `getModule("${path}"): "${at}" has no child "${part}"; its children are ` +
          `${[...cur.children.keys()].join(', ') || 'none'}.`);
      }
      return next;
    }, this);
    if (type !== undefined && !(m instanceof type)) {
      throw new SiftError('E_CONFIG', `getModule("${path}"): expected a ${type.name}, found a ${m.constructor.name}.`);
    }
    return m;
  }

  /** The parameter at a full dotted path (`'h.3.mlp.c_fc.weight'`). */
  getParameter(path: string): Parameter {
    const parts = this.splitPath(path);
    const name = parts.pop();
    const owner = this.getModule(parts.join('.'));
    if (name === undefined || !owner.params.has(name)) {
      throw new SiftError('E_CONFIG', `getParameter("${path}"): no such parameter; "${parts.join('.') || '(root)'}" has ` +
        `${[...owner.params.keys()].join(', ') || 'no parameters'}.`);
    }
    return owner.params.get(name)!;
  }

  /**
   * Swaps the module at `path` for `module` (any depth: `'h.3.mlp.c_fc'`) and returns the old one, NOT disposed
   * (the caller decides: dispose it, or keep its weights). Fields of the parent that pointed at the old module are
   * re-pointed. The new module takes the parent's training mode. Build optimizers after surgery.
   * @example
   * const old = model.replace('h.0.mlp.c_fc', new MaskedLinear(...));
   * old.dispose();
   */
  replace(path: string, module: Module): Module {
    const parts = this.splitPath(path);
    const name = parts.pop();
    if (name === undefined) {
      throw new SiftError('E_CONFIG', 'replace(""): cannot replace the root module; give the path of a child, e.g. "h.0.mlp.c_fc".');
    }
    if (!(module instanceof Module)) {
      throw new SiftError('E_CONFIG', `replace("${path}"): expected a Module, got ${typeof module}.`);
    }
    const parent = this.getModule(parts.join('.'));
    const old = parent.children.get(name);
    if (old === undefined) {
      throw new SiftError('E_CONFIG', `replace("${path}"): "${parts.join('.') || '(root)'}" has no child "${name}"; its ` +
        `children are ${[...parent.children.keys()].join(', ') || 'none'}.`);
    }
    parent.children.set(name, module);
    const fields = parent as unknown as Record<string, unknown>;
    for (const key of Object.keys(fields)) if (fields[key] === old) fields[key] = module;
    module.train(parent.training);
    return old;
  }

  // ---------------------------------------------------------------- modes and trainability

  /** Sets training mode on this module and every descendant; returns `this`. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (`train(false)`): dropout off. Returns `this`. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Sets `trainable` on the selected parameters (all when `selector` is omitted) and returns their names.
   * @param selector glob(s)/RegExp(s) over full parameter names, or `{ include, exclude }`
   */
  setTrainable(trainable: boolean, selector?: ParamSelector): string[] {
    const filter = toFilter(selector);
    const names: string[] = [];
    for (const [name, v] of this.namedParameters()) {
      if (!passesFilter(name, filter)) continue;
      v.trainable = trainable;
      names.push(name);
    }
    return names;
  }

  /**
   * Freezes parameters (`trainable = false`), all or by name pattern; returns the names frozen.
   * @example
   * model.freeze();                      // everything
   * model.unfreeze('h.*.mlp.c_fc.weight'); // then train these only
   * model.freeze(['**.bias', /ln_\d/]);
   */
  freeze(selector?: ParamSelector): string[] {
    return this.setTrainable(false, selector);
  }

  /** Unfreezes parameters (`trainable = true`), all or by name pattern; returns the names. */
  unfreeze(selector?: ParamSelector): string[] {
    return this.setTrainable(true, selector);
  }

  // ---------------------------------------------------------------- state dict

  private stateTargets(): [string, { param?: Parameter; owner?: Module; key?: string }][] {
    const out: [string, { param?: Parameter; owner?: Module; key?: string }][] = [];
    for (const [path, m] of this.namedModules()) {
      const full = (n: string): string => (path === '' ? n : `${path}.${n}`);
      for (const [name, v] of m.params) out.push([full(name), { param: v }]);
      for (const [name, b] of m.buffers) if (b.persistent) out.push([full(name), { owner: m, key: name }]);
    }
    return out;
  }

  /**
   * Parameters and persistent buffers by full name. The tensors are the module's own (not copies): do not dispose
   * them; `tf.clone` what must survive later training steps.
   */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [name, t] of this.stateTargets()) {
      out[name] = t.param ?? t.owner!.buffers.get(t.key!)!.tensor;
    }
    return out;
  }

  /**
   * Copies tensors into parameters and buffers by name, after checking every key first (nothing changes on error).
   * The caller keeps ownership of `stateDict` (dispose it afterwards if you like: the module holds its own reference).
   * @throws SiftError `E_STATE_DICT` for a shape or dtype mismatch (naming the key, `got [..] expected [..]`), or,
   *   when `strict` (default), for missing or unexpected keys (listing them).
   */
  loadStateDict(stateDict: StateDict | ReadonlyMap<string, tf.Tensor>, options: LoadStateDictOptions = {}): LoadStateDictReport {
    const strict = options.strict ?? true;
    const given: ReadonlyMap<string, tf.Tensor> = isTensorMap(stateDict) ? stateDict : new Map(Object.entries(stateDict));
    const targets = this.stateTargets();
    const known = new Set(targets.map(([n]) => n));
    const missingKeys: string[] = [];
    const loadedKeys: string[] = [];
    for (const [name, t] of targets) {
      const value = given.get(name);
      if (value === undefined) {
        missingKeys.push(name);
        continue;
      }
      const current = t.param ?? t.owner!.buffers.get(t.key!)!.tensor;
      if (!((value as unknown) instanceof tf.Tensor) || value.isDisposed) {
        throw new SiftError('E_STATE_DICT', `loadStateDict: "${name}" is not a live tf.Tensor. Pass tensors (convert ` +
          'safetensors entries with safeTensorToTf).');
      }
      const got: readonly number[] = value.shape;
      if (got.length !== current.shape.length || got.some((d, i) => d !== current.shape[i])) {
        throw new SiftError('E_STATE_DICT', `loadStateDict: "${name}" has shape got ${fmtShape(value.shape)} expected ` +
          `${fmtShape(current.shape)}. Check the model config (sizes, heads, vocabulary) matches the checkpoint.`);
      }
      if (value.dtype !== current.dtype) {
        throw new SiftError('E_STATE_DICT', `loadStateDict: "${name}" has dtype got ${value.dtype} expected ` +
          `${current.dtype}. Cast it first (tf.cast).`);
      }
      loadedKeys.push(name);
    }
    const unexpectedKeys = [...given.keys()].filter((k) => !known.has(k));
    if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      const list = (keys: string[]): string => keys.slice(0, 10).join(', ') + (keys.length > 10 ? `, ... (${keys.length} in all)` : '');
      const parts: string[] = [];
      if (missingKeys.length > 0) parts.push(`missing keys: ${list(missingKeys)}`);
      if (unexpectedKeys.length > 0) parts.push(`unexpected keys: ${list(unexpectedKeys)}`);
      throw new SiftError('E_STATE_DICT', `loadStateDict (strict): ${parts.join('; ')}. Rename the keys (e.g. strip a ` +
        '"model." prefix), or pass { strict: false } to load the matching subset.');
    }
    for (const [name, t] of targets) {
      const value = given.get(name);
      if (value === undefined) continue;
      if (t.param !== undefined) {
        if (value.dataId !== t.param.dataId) t.param.assign(value);
      } else {
        const entry = t.owner!.buffers.get(t.key!)!;
        if (value !== entry.tensor) {
          entry.tensor.dispose();
          entry.tensor = tf.keep(tf.clone(value));
        }
      }
    }
    return { missingKeys, unexpectedKeys, loadedKeys };
  }

  // ---------------------------------------------------------------- hooks

  /**
   * Calls `hook(module, inputs, output)` after every `forward` of this module; returns a function that removes it.
   * Hooks run synchronously inside the caller's `tf.tidy`: consume the tensors at once (update an accumulator) or
   * `tf.keep` them; never dispose them.
   * @example
   * let gram: tf.Tensor | null = null;
   * const remove = linear.registerForwardHook((_m, [x]) => {
   *   const x2 = tf.reshape(x, [-1, x.shape[x.rank - 1]!]);
   *   const next = tf.keep(tf.add(gram ?? 0, tf.matMul(tf.transpose(x2), x2)));
   *   gram?.dispose();
   *   gram = next;
   * });
   * tf.tidy(() => model.forward(ids));
   * remove();
   */
  registerForwardHook(hook: ForwardHook<this, I, O>): () => void {
    const stored = hook as StoredHook;
    this.forwardHooks.push(stored);
    if (this.forwardHooks.length === 1) this.installHookWrapper();
    return () => {
      const i = this.forwardHooks.indexOf(stored);
      if (i < 0) return;
      this.forwardHooks.splice(i, 1);
      if (this.forwardHooks.length === 0) delete (this as unknown as { forward?: unknown }).forward;
    };
  }

  /**
   * Shadows the prototype's `forward` with an own property that calls it and then the hooks. Works for any subclass
   * and any override, costs nothing when no hook is registered (the own property is deleted again).
   */
  private installHookWrapper(): void {
    const proto = Object.getPrototypeOf(this) as { forward: AnyForward };
    const self = this as unknown as { forward: AnyForward };
    self.forward = (...inputs: unknown[]): unknown => {
      const output = proto.forward.apply(this, inputs);
      for (const hook of [...this.forwardHooks]) hook(this, inputs, output);
      return output;
    };
  }

  /**
   * Registers a gradient transform for one of this module's own parameters (applied by `valueAndGrads` before
   * clipping and the optimizer); returns a remover.
   * @example
   * // keep pruned weights at zero: their gradient is masked
   * linear.registerGradHook('weight', (g) => tf.mul(g, mask));
   */
  registerGradHook(paramName: string, hook: GradHook): () => void {
    this.param(paramName);
    const list = this.gradHooks.get(paramName) ?? [];
    list.push(hook);
    this.gradHooks.set(paramName, list);
    return () => {
      const i = list.indexOf(hook);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Gradient hooks of the whole tree by full parameter name. */
  namedGradHooks(): Map<string, GradHook[]> {
    const out = new Map<string, GradHook[]>();
    for (const [path, m] of this.namedModules()) {
      for (const [name, hooks] of m.gradHooks) {
        if (hooks.length > 0) out.set(path === '' ? name : `${path}.${name}`, [...hooks]);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- disposal

  /** Disposes every parameter and buffer of the tree. The module must not be used afterwards. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const v of m.params.values()) if (!v.isDisposed) v.dispose();
      for (const b of m.buffers.values()) if (!b.tensor.isDisposed) b.tensor.dispose();
      m.params.clear();
      m.buffers.clear();
    }
  }
}

/**
 * A list of modules registered as children `0`, `1`, ... (PyTorch's `nn.ModuleList`), so paths read `h.3.mlp`.
 * `get(i)` reads the registered child, so `replace('h.3', ...)` is seen through the list.
 * @example
 * const h = new ModuleList(Array.from({ length: 4 }, () => new Block(cfg, rng)));
 * for (const block of h) x = block.forward(x);
 */
export class ModuleList<M extends Module = Module> extends Module {
  private count = 0;

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  /** Appends a module as child `String(length)`; returns `this`. */
  push(module: M): this {
    this.addModule(String(this.count), module);
    this.count += 1;
    return this;
  }

  /** Number of modules. */
  get length(): number {
    return this.count;
  }

  /** The module at index `i` (negative counts from the end). */
  get(i: number): M {
    const j = i < 0 ? this.count + i : i;
    if (!Number.isInteger(j) || j < 0 || j >= this.count) {
      throw new SiftError('E_CONFIG', `ModuleList.get(${i}): index out of range for a list of ${this.count}.`);
    }
    return this.getModule(String(j)) as M;
  }

  /** The modules in order. */
  toArray(): M[] {
    return Array.from({ length: this.count }, (_, i) => this.get(i));
  }

  [Symbol.iterator](): Iterator<M> {
    return this.toArray()[Symbol.iterator]();
  }
}
