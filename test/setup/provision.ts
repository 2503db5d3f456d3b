// The environments a tier's tests run in, provisioned before its first test (cached outside the
// checkout, so a warm cache makes this a check).
import { provision } from '../../src/envs/provision.ts';

export async function provisionEnvs(names: string[]): Promise<void> {
  for (const name of names) await provision(name, (line) => console.error(line));
}
