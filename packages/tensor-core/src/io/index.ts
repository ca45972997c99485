/**
 * safetensors I/O. Byte functions (`parseSafetensors`, `serializeSafetensors`, the converters) are browser-safe;
 * file functions load `node:fs` on first call and are Node only.
 */
export {
  SAFETENSORS_DTYPES, dtypeSize, isSafetensorsDtype,
  type SafeTensor, type SafeTensorOf, type SafetensorsArray, type SafetensorsArrayMap, type SafetensorsDtype,
} from './dtypes.js';
export {
  bf16ArrayToF32, bf16BitsToF32, f16ArrayToF32, f16BitsToF32, f32ArrayToBf16, f32ArrayToF16, f32ToBf16Bits, f32ToF16Bits,
} from './half.js';
export {
  SAFETENSORS_PARSE_DEFAULTS, parseSafetensorsHeader,
  type SafetensorsEntry, type SafetensorsHeader, type SafetensorsParseOptions,
} from './header.js';
export { parseSafetensors, serializeSafetensors, type SafeTensorMap, type SafetensorsData } from './safetensors.js';
export {
  safeTensorToF32, safeTensorToTf, tfToSafeTensor, tfToSafeTensorSync,
  type SafeTensorToTfOptions, type TfToSafeTensorOptions,
} from './convert.js';
export { WRITE_FILE_ATOMIC_DEFAULTS, writeFileAtomic, type AtomicWriteData, type WriteFileAtomicOptions } from './atomic.js';
export {
  openSafetensorsFile, readSafetensorsFile, readSafetensorsHeader, readTensorFromFile, writeSafetensorsFile,
  type SafetensorsFileReader, type SafetensorsReadOptions, type SafetensorsWriteReport,
} from './files.js';
export {
  WRITE_SHARDED_DEFAULTS, parseSafetensorsIndex, readShardedSafetensors, writeShardedSafetensors,
  type ReadShardedOptions, type SafetensorsIndex, type ShardProgress, type ShardedSafetensors, type ShardedWriteReport,
  type WriteShardedOptions,
} from './sharded.js';
