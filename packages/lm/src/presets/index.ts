export {
  PRESETS, countParameters, presetConfig, trainPreset,
  type LmPreset, type PresetName, type PresetTokenizer, type TrainPresetOptions, type TrainPresetReport,
} from './presets.js';
