import * as tf from '@tensorflow/tfjs-core';
import { Linear, SiftError, fmtShape } from '@sift/tensor-core';
import type { NMPattern } from './pattern.js';

/**
 * A `Linear` whose product uses W ⊙ M: the mask is a persistent buffer `mask` [out, in] (1 = kept), so the state dict
 * carries it, gradients through `effectiveWeight` are masked too (pruned weights stay pruned in fine-tuning), and
 * `Module.replace` swaps it in for the dense layer. An optional `salientMask` buffer marks the salient entries (for
 * packing); `pattern` records the N:M pattern of the sparse part (null: unstructured).
 * @example
 * const masked = MaskedLinear.fromLinear(dense, mask, { n: 8, m: 16 });
 * model.replace('h.0.mlp.c_fc', masked).dispose();
 */
export class MaskedLinear extends Linear {
  /** The sparse part's N:M pattern, or null. */
  readonly pattern: NMPattern | null;

  constructor(options: { inFeatures: number; outFeatures: number; bias: boolean; pattern?: NMPattern | null }) {
    super({ inFeatures: options.inFeatures, outFeatures: options.outFeatures, bias: options.bias, weightInit: 'zeros', biasInit: 'zeros' });
    this.pattern = options.pattern ?? null;
    this.addBuffer('mask', tf.ones([options.outFeatures, options.inFeatures]));
  }

  /**
   * A MaskedLinear with copies of `source`'s weight (times the mask) and bias, and the given mask.
   * @param mask [out, in] 0/1 tensor, or a Uint8Array of out·in entries
   * @param salientMask optional, same form: which kept entries are salient
   */
  static fromLinear(source: Linear, mask: tf.Tensor | Uint8Array, pattern: NMPattern | null = null, salientMask?: tf.Tensor | Uint8Array): MaskedLinear {
    const m = new MaskedLinear({ inFeatures: source.inFeatures, outFeatures: source.outFeatures, bias: source.bias !== null, pattern });
    const shape: [number, number] = [source.outFeatures, source.inFeatures];
    const toT = (x: tf.Tensor | Uint8Array, what: string): tf.Tensor => {
      if (x instanceof Uint8Array) {
        if (x.length !== shape[0] * shape[1]) throw new SiftError('E_SHAPE', `MaskedLinear: ${what} has ${x.length} entries, the weight ${fmtShape(shape)} has ${shape[0] * shape[1]}.`);
        return tf.tensor2d(Float32Array.from(x), shape);
      }
      if (x.shape.join() !== shape.join()) throw new SiftError('E_SHAPE', `MaskedLinear: ${what} is ${fmtShape(x.shape)}, the weight is ${fmtShape(shape)}.`);
      return tf.cast(x, 'float32');
    };
    const mk = toT(mask, 'mask');
    m.setBuffer('mask', mk);
    tf.tidy(() => {
      m.weight.assign(tf.mul(source.weight, mk));
      if (source.bias !== null) m.bias!.assign(source.bias);
    });
    if (salientMask !== undefined) m.addBuffer('salientMask', toT(salientMask, 'salientMask'));
    return m;
  }

  /** The 0/1 mask [out, in] (owned by the layer). */
  get mask(): tf.Tensor {
    return this.buffer('mask');
  }

  /** The salient-entry mask [out, in], or null. */
  get salientMask(): tf.Tensor | null {
    return this.namedBuffers().some(([n]) => n === 'salientMask') ? this.buffer('salientMask') : null;
  }

  /** W ⊙ M */
  override effectiveWeight(): tf.Tensor {
    return tf.mul(this.weight, this.buffer('mask'));
  }
}
