import { describe, expect, it } from 'vitest';
import { SiftError } from '@sift/tensor-core';
import { formatBytes, formatSeconds, formatShape } from './format.js';
import { BACKEND_CHOICES, errorInfo, isBackendChoice, progressWithEta } from './protocol.js';

describe('protocol helpers', () => {
  it('estimates the time left from the average rate so far', () => {
    expect(progressWithEta(0.25, 3, 'x')).toEqual({ fraction: 0.25, etaSeconds: 9, message: 'x' });
    expect(progressWithEta(1, 3, 'done').etaSeconds).toBe(0);
    // No ETA from too little to go on; fractions are clamped.
    expect(progressWithEta(0.005, 10, 'x').etaSeconds).toBeUndefined();
    expect(progressWithEta(0.5, 0.1, 'x').etaSeconds).toBeUndefined();
    expect(progressWithEta(1.5, 1, 'x').fraction).toBe(1);
    expect(progressWithEta(Number.NaN, 1, 'x').fraction).toBe(0);
  });

  it('keeps the code of a SiftError across the boundary', () => {
    const e = errorInfo(new SiftError('E_SAFETENSORS', 'bad file'));
    expect(e).toEqual({ name: 'SiftError', code: 'E_SAFETENSORS', message: 'bad file' });
    expect(structuredClone(e)).toEqual(e);
    expect(errorInfo(new TypeError('t'))).toEqual({ name: 'TypeError', message: 't' });
    expect(errorInfo('plain')).toEqual({ name: 'Error', message: 'plain' });
  });

  it('accepts only known backend choices from the URL', () => {
    for (const c of BACKEND_CHOICES) expect(isBackendChoice(c)).toBe(true);
    expect(isBackendChoice('cuda')).toBe(false);
    expect(isBackendChoice(null)).toBe(false);
  });

  it('formats bytes, seconds and shapes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(3 * 2 ** 30)).toBe('3.00 GiB');
    expect(formatSeconds(0.0083)).toBe('8.3 ms');
    expect(formatSeconds(0.42)).toBe('0.42 s');
    expect(formatSeconds(4.25)).toBe('4.3 s');
    expect(formatSeconds(185)).toBe('3 min 05 s');
    expect(formatShape([])).toBe('[]');
    expect(formatShape([768, 3072])).toBe('[768, 3072]');
  });
});
