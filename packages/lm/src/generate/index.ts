export {
  GENERATE_DEFAULTS, generate, pickToken, type FinishReason, type GenerateOptions, type GenerateReport,
} from './generate.js';
