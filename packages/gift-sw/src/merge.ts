import type { Module } from '@sift/tensor-core';
import { NoisyLinear, SteLinear } from './baselines/full.js';
import { LoraLinear } from './baselines/lora.js';
import { GiftLinear } from './gift/gift-linear.js';

/**
 * Replaces every `GiftLinear`, `LoraLinear`/`DoraLinear`, `NoisyLinear` and `SteLinear` of the model by its merged
 * plain `Linear` (salient columns or low-rank updates folded in, noise never, STE weights quantized); returns the
 * merged names. The merged layers keep the model's training mode.
 * @example
 * mergeAdapters(model); // then save an ordinary checkpoint
 */
export function mergeAdapters(model: Module): string[] {
  const names: string[] = [];
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof GiftLinear || m instanceof LoraLinear || m instanceof NoisyLinear || m instanceof SteLinear)) continue;
    const merged = m.merge();
    merged.train(m.training);
    model.replace(name, merged).dispose();
    names.push(name);
  }
  return names;
}
