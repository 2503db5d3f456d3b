// Per-machine history: results/history/<machine-id>/<time>/run.json, one self-describing run a night.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Machine } from '../results/machine.ts';
import type { RunFile } from '../results/run-file.ts';

/** Stable for one machine across runs (its systemd machine-id and hardware), different between machines. */
export function machineId(m: Machine): string {
  let id = os.hostname();
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    if (existsSync(f)) {
      id = readFileSync(f, 'utf8').trim();
      break;
    }
  }
  const hash = createHash('sha256').update(JSON.stringify([id, m.cpu_model, m.logical_cpus, m.memory_bytes])).digest('hex');
  return hash.slice(0, 12);
}

export interface HistoryEntry {
  dir: string;
  run: RunFile;
}

/** Every readable run of a machine, oldest first. */
export function readHistory(machineDir: string): HistoryEntry[] {
  if (!existsSync(machineDir)) return [];
  const out: HistoryEntry[] = [];
  for (const name of readdirSync(machineDir)) {
    const file = path.join(machineDir, name, 'run.json');
    if (!existsSync(file)) continue;
    try {
      out.push({ dir: path.join(machineDir, name), run: JSON.parse(readFileSync(file, 'utf8')) as RunFile });
    } catch {
      /* a run.json is written atomically; an unreadable one is not ours to judge */
    }
  }
  return out.sort((a, b) => a.run.started.localeCompare(b.run.started));
}
