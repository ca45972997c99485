export {
  TRAIN_DEFAULTS, evaluateLoss, trainLm,
  type TrainData, type TrainHistoryPoint, type TrainHooks, type TrainOptions, type TrainProgress, type TrainReport,
} from './train.js';
