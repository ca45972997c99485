import { describe, expect, it } from 'vitest';
import { leb, sleb } from './wasm-asm.js';

describe('wasm assembler encodings', () => {
  it('LEB128: unsigned for counts and offsets, signed for i32.const (64 takes two bytes)', () => {
    expect(leb(0)).toEqual([0]);
    expect(leb(127)).toEqual([0x7f]);
    expect(leb(128)).toEqual([0x80, 0x01]);
    expect(leb(65536)).toEqual([0x80, 0x80, 0x04]);
    expect(sleb(0)).toEqual([0]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(128)).toEqual([0x80, 0x01]);
  });
});
