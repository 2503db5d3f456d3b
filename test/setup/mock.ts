// The mock tier runs the sleep backend, whose workers live in the torch environment: nothing else.
import { provisionEnvs } from './provision.ts';

export default () => provisionEnvs(['torch']);
