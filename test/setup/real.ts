// The real tier runs real backends: PyTorch, OpenVINO, IPEX and ONNX Runtime environments.
import { provisionEnvs } from './provision.ts';

export default () => provisionEnvs(['torch', 'openvino', 'ipex', 'onnxruntime']);
