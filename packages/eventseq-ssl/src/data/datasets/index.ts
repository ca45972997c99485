/** Loaders for public datasets' own file layouts (Age group, Rosbank churn, Alpha Battle, PhysioNet 2012). */
export type { DatasetLoadOptions } from './common.js';
export { AGE_GROUP_SCHEMA, loadAgeGroup } from './age-group.js';
export { loadRosbank, ROSBANK_LABELS, ROSBANK_SCHEMA } from './rosbank.js';
export { ALPHA_BATTLE_SCHEMA, loadAlphaBattle } from './alpha-battle.js';
export { loadPhysioNet2012, PHYSIONET_2012_SCHEMA, PHYSIONET_SERIES } from './physionet-2012.js';
