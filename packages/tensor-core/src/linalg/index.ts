/**
 * linalg: the dense linear algebra tfjs lacks, for second-order pruning and quantization (SparseGPT, GPTQ):
 * Cholesky, SPD inverse, the upper Cholesky factor of the inverse (`Hinv`), triangular solves, dead-input handling.
 * Each runs in float64 on the host (typed arrays) or as a blocked float32 computation on the active tfjs backend.
 */
export {
  cholesky, choleskyAsync, spdInverse, spdInverseAsync, choleskyInverseUpper, choleskyInverseUpperAsync,
} from './spd.js';
export { triangularSolve, triangularSolveAsync, type RightHandSide } from './triangular.js';
export { gemm as gemmF64, rankOneRowsF64, setHostThreads, type View as F64View, type Operand as F64Operand, type GemmStructure as F64GemmStructure } from './gemm.js';
export { fixDeadInputs, zeroColumns, type DeadInputs } from './dead-inputs.js';
export {
  LINALG_DEFAULTS, TRIANGULAR_SOLVE_DEFAULTS, type LinalgOptions, type TriangularSolveOptions, type LinalgPrecision,
  type SquareMatrix,
} from './options.js';
