// Provisions the environments the integration tests use (cached outside the checkout, so reused).
import { provision } from '../src/envs/provision.ts';

export default async function setup(): Promise<void> {
  for (const name of ['torch', 'openvino', 'ipex']) await provision(name, (line) => console.error(line));
}
