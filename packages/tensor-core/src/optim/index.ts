/**
 * optim: gradients by parameter name, AdamW and SGD that step on them, global-norm clipping, LR schedules, and
 * resumable training state (tensors + JSON).
 */
export { valueAndGrads, resolveParams, type GradMap, type NamedParams } from './grads.js';
export { clipGradNorm, globalNorm } from './clip.js';
export {
  Optimizer, noDecayRank1,
  type OptimizerBaseOptions, type OptimizerState, type OptimizerStateJson, type ParamEntry, type ParamGroup, type ParamPredicate,
} from './optimizer.js';
export { AdamW, ADAMW_DEFAULTS, type AdamWOptions } from './adamw.js';
export { SGD, SGD_DEFAULTS, type SGDOptions } from './sgd.js';
export { constantLr, warmupCosine, stepDecay, lrAt, parseLrSchedule, type LrSchedule } from './schedule.js';
export {
  saveTrainingState, loadTrainingState, trainingStateRngs, serializeTrainingState, parseTrainingState, type TrainingState, type TrainingStateJson, type SaveTrainingStateOptions,
} from './training-state.js';
