import { SiftError } from '@sift/tensor-core';

function check(where: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new SiftError('E_SHAPE', `${where}: ${a.length} targets but ${b.length} predictions; pass one per sample.`);
  if (a.length === 0) throw new SiftError('E_EMPTY', `${where}: no samples; pass at least one.`);
}

/**
 * Mean squared error, sklearn `mean_squared_error`.
 * @example
 * mse([1, 2], [1, 4]); // 2
 */
export function mse(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  check('mse', yTrue, yPred);
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += (yTrue[i] - yPred[i]) ** 2;
  return s / yTrue.length;
}

/**
 * Mean absolute error, sklearn `mean_absolute_error`.
 * @example
 * mae([1, 2], [1, 4]); // 1
 */
export function mae(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  check('mae', yTrue, yPred);
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += Math.abs(yTrue[i] - yPred[i]);
  return s / yTrue.length;
}
