// Per-machine history: results/history/<machine-id>/<time>/run.json, one self-describing run a night.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { UserError } from '../errors.ts';
import type { Machine } from '../results/machine.ts';

/**
 * Stable for one machine across runs (its systemd machine-id and hardware), different between
 * machines. LADDER_MACHINE_ID overrides it: a fleet of several Slurm nodes on one host (the tests)
 * names each run by its node.
 */
export function machineId(m: Machine, env = process.env): string {
  const given = env.LADDER_MACHINE_ID;
  if (given !== undefined && given !== '') {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(given))
      throw new UserError(`LADDER_MACHINE_ID=${given}: must be letters, digits, dots, dashes and underscores`);
    return given;
  }
  let id = os.hostname();
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    if (existsSync(f)) {
      id = readFileSync(f, 'utf8').trim();
      break;
    }
  }
  const hash = createHash('sha256')
    .update(JSON.stringify([id, m.cpu_model, m.logical_cpus, m.memory_bytes]))
    .digest('hex');
  return hash.slice(0, 12);
}
