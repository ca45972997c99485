/**
 * Error codes used across Sift. Each names a class of problem; the message says what, where, got vs expected, and
 * the fix.
 */
export type SiftErrorCode =
  | 'E_SHAPE'
  | 'E_DTYPE'
  | 'E_CONFIG'
  | 'E_STATE_DICT'
  | 'E_NOT_PD'
  | 'E_NAN'
  | 'E_EMPTY'
  | 'E_SAFETENSORS'
  | 'E_IO'
  | 'E_DATA'
  | 'E_UNSUPPORTED';

/**
 * The error type of every Sift library. `code` is stable for programs; `message` is for people.
 * @example
 * throw new SiftError('E_SHAPE', 'layer "h.3.mlp.c_fc": in_features 772 is not a multiple of M=16 (pattern 8:16). Use 2:4.');
 */
export class SiftError extends Error {
  override readonly name: string = 'SiftError';
  readonly code: SiftErrorCode;

  constructor(code: SiftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Shape as `[a, b, c]` for messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
