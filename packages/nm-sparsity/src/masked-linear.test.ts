import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Linear, Module, valueAndGrads } from '@sift/tensor-core';
import { expectNoLeak, expectTensorsClose, seeded } from '@sift/tensor-core/testing';
import { MaskedLinear } from './masked-linear.js';

describe('MaskedLinear', () => {
  const rng = seeded('masked');
  const dense = new Linear({ inFeatures: 8, outFeatures: 4, rng });
  const mask = Uint8Array.from({ length: 32 }, (_, i) => (i % 4 < 2 ? 1 : 0));
  const x = rng.normalTensor([3, 8]);

  it('forward is x (W ⊙ M)ᵀ + b; the state dict carries the mask; the gradient is masked', () => {
    const m = MaskedLinear.fromLinear(dense, mask, { n: 2, m: 4 });
    const mt = tf.tensor2d(Float32Array.from(mask), [4, 8]);
    const ref = tf.add(tf.matMul(x, tf.mul(dense.weight, mt), false, true), dense.bias!);
    const y = m.forward(x);
    expectTensorsClose(y, ref, { atol: 1e-6 });
    expect(Object.keys(m.stateDict())).toEqual(['weight', 'bias', 'mask']);
    expect(m.pattern).toEqual({ n: 2, m: 4 });
    expect(m.salientMask).toBeNull();
    const { grads, value } = valueAndGrads(m, () => tf.sum<tf.Scalar>(tf.square(m.forward(x))));
    const g = grads.weight.dataSync();
    for (let i = 0; i < 32; i++) if (mask[i] === 0) expect(Math.abs(g[i])).toBe(0);
    tf.dispose([mt, ref, y, value, ...Object.values(grads)]);
    m.dispose();
  });

  it('replaces a Linear inside a module tree; shape errors are SiftErrors; no leaks', async () => {
    class Holder extends Module {
      fc: Linear;
      constructor() {
        super();
        this.fc = this.addModule('fc', new Linear({ inFeatures: 8, outFeatures: 4, rng: seeded(2) }));
      }
    }
    const h = new Holder();
    const old = h.replace('fc', MaskedLinear.fromLinear(h.fc, mask, null, new Uint8Array(32)));
    expect(h.fc).toBeInstanceOf(MaskedLinear);
    expect(h.getModule('fc', MaskedLinear).salientMask).not.toBeNull();
    old.dispose();
    expect(() => MaskedLinear.fromLinear(dense, new Uint8Array(5))).toThrow(/mask has 5 entries, the weight \[4, 8\] has 32/u);
    await expectNoLeak(() => h.fc.forward(x));
    h.dispose();
  });
});
