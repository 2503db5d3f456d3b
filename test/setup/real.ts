// The real tier runs real backends: PyTorch, OpenVINO and IPEX environments.
import { provisionEnvs } from './provision.ts';

export default () => provisionEnvs(['torch', 'openvino', 'ipex']);
