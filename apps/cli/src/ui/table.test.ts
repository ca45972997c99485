import { describe, expect, it } from 'vitest';
import { formatTable } from './table.js';

describe('formatTable', () => {
  it('pads every column to its widest cell', () => {
    expect(formatTable(['name', 'n'], [['wasm', '1'], ['webgpu', '12']])).toBe(
      ['name    n', '------  --', 'wasm    1', 'webgpu  12'].join('\n'),
    );
  });
});
