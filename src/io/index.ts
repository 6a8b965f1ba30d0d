/** Interop: safetensors, PyTorch .pth (safe unpickler), state-dict layouts, ONNX export. */
export {
  readSafetensors, openSafetensors, parseSafetensors, writeSafetensors, serializeSafetensors, LazySafetensors, SafetensorsError,
  SAFETENSORS_DTYPES, MAX_HEADER_BYTES,
  type SafetensorsDtype, type TensorData, type LoadedTensor, type TensorInfo, type ReadOptions, type SafetensorsFile,
  type TensorToWrite, type WriteOptions,
} from './safetensors.js';
export { readPth, readPthStateDict, findStateDict, PthError, PthTensor, PthStorage, type PthFile } from './pth.js';
export { unpickle, PickleError, PickleDict, PickleTuple, PickleGlobal, type PickleValue, type UnpickleOptions, type GlobalHandler } from './pickle.js';
export { toCanonical, detectLayout, inferArch, checkStateDict, StateDictError, LAYOUTS, type Layout, type InferredArch } from './stateDict.js';
export { buildOnnx, exportOnnx, decodeOnnx, OnnxExportError, DEFAULT_OPSET, type OnnxExportOptions } from './onnx.js';
