// Provisions the environments the integration tests use (cached outside the checkout, so reused).
import { provision } from '../src/envs/provision.ts';

export default async function setup(): Promise<void> {
  await provision('torch', (line) => console.error(line));
}
