import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '@sift/testkit';

const PKG = fileURLToPath(new URL('../..', import.meta.url));

describe('README safetensors section', () => {
  it('the first example runs as written', async () => {
    const mod = (await runReadmeExample(PKG, { section: '## safetensors I/O' }));
    expect(mod.names).toEqual(['w', 'b']);
    expect(mod.sum).toBe(10);
    expect(mod.stored).toEqual({ dtype: 'BF16', shape: [2, 2], data: new Uint16Array([0x3f80, 0x4000, 0x4040, 0x4080]) });
    expect((mod.header as { tensors: Map<string, unknown> }).tensors.get('w')).toEqual({ dtype: 'BF16', shape: [2, 2], dataOffsets: [0, 8] });
    expect(mod.one).toEqual(mod.stored);
  });
});
