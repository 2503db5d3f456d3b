// Gathering a fleet's runs: every run.json of <root>/history/<machine-id>/ that a job of this
// submission made, read by the one run-file reader. It says which classes have no run, and warns
// when two machine ids share one CPU fingerprint (the same box under two names, or twins).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { type RunFile, readHistory } from '../results/run-file.ts';
import type { Manifest } from './manifest.ts';

export interface GatheredRun {
  machine_id: string;
  class?: string;
  /** The run's folder. */
  dir: string;
  run: RunFile;
}

export interface Gathered {
  fleet: string;
  runs: GatheredRun[];
  /** Classes of the submission without a finished run, with their job's state. */
  missing: { class: string; state: string; error?: string }[];
  /** Machine ids that share one CPU fingerprint. */
  twins: { fingerprint: string; machine_ids: string[] }[];
  /** Files of the history that are not valid runs, and why. */
  skipped: { file: string; reason: string }[];
}

/** "machine ids n1, n2 share one CPU fingerprint (...)" */
export const twinsLine = (t: Gathered['twins'][number]) =>
  `machine ids ${t.machine_ids.join(', ')} share one CPU fingerprint (${t.fingerprint})`;

export const fingerprint = (run: RunFile) => {
  const m = run.machine;
  const isa = Object.entries(m.isa ?? {})
    .filter(([, v]) => v)
    .map(([k]) => k)
    .sort();
  return `${m.cpu_model}, ${m.logical_cpus} CPUs, ${Math.round((m.memory_bytes ?? 0) / 2 ** 30)} GiB, ${isa.join(' ')}`;
};

/** The runs of submission `m`; with `all`, every run of the root's history (runs gathered from elsewhere, CI artifacts). */
export function gather(m: Manifest, all = false): Gathered {
  const history = path.join(m.fleet.root, 'history');
  const runs: GatheredRun[] = [];
  const skipped: Gathered['skipped'] = [];
  const ids = existsSync(history) ? readdirSync(history).filter((d) => !d.startsWith('.')) : [];
  for (const machineId of ids) {
    const h = readHistory(path.join(history, machineId));
    skipped.push(...h.skipped);
    for (const { dir, run } of h.runs)
      if (all || run.scheduler?.fleet === m.id)
        runs.push({ machine_id: machineId, class: run.scheduler?.class, dir, run });
  }
  const finished = (cls: string) => runs.some((r) => r.class === cls && r.run.finished);
  const missing = m.jobs
    .filter((j) => !finished(j.class))
    .map((j) => ({ class: j.class, state: j.state, ...(j.error ? { error: j.error } : {}) }));
  const byPrint = new Map<string, Set<string>>();
  for (const r of runs) {
    const f = fingerprint(r.run);
    byPrint.set(f, (byPrint.get(f) ?? new Set()).add(r.machine_id));
  }
  const twins = [...byPrint]
    .filter(([, s]) => s.size > 1)
    .map(([f, s]) => ({ fingerprint: f, machine_ids: [...s].sort() }));
  return { fleet: m.id, runs, missing, twins, skipped };
}
