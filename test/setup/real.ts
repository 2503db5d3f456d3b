// The real tier runs real backends: PyTorch, OpenVINO, IPEX, ONNX Runtime and stable-diffusion.cpp
// (its environment builds the library from source: minutes, once per requirements).
import { provisionEnvs } from './provision.ts';

export default () => provisionEnvs(['torch', 'openvino', 'ipex', 'onnxruntime', 'sdcpp']);
