// Per-machine history: results/history/<machine-id>/<time>/run.json, one self-describing run a night.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Machine } from '../results/machine.ts';

/** Stable for one machine across runs (its systemd machine-id and hardware), different between machines. */
export function machineId(m: Machine): string {
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
