// A fleet submission on disk: <root>/fleet/<id>/manifest.json (the classes, their job ids and
// states), beside each class's job script and output. Written atomically after every change.
import { chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LadderError, UserError } from '../errors.ts';
import { readRegularFile, writeFileAtomic, writeJsonAtomic } from '../files.ts';
import { runStamp } from '../out-dir.ts';
import type { Fleet } from './config.ts';
import { type Engine, FINAL, type FleetJob } from './engine.ts';
import { LocalEngine } from './local.ts';
import { jobScript } from './script.ts';
import { SlurmEngine } from './slurm.ts';

export interface Manifest {
  manifest_version: 1;
  id: string;
  fleet: { name: string; file: string; engine: Fleet['engine']; root: string; command: Fleet['command'] };
  created: string;
  /** The command that submitted it. */
  command: string;
  jobs: FleetJob[];
}

export const fleetDir = (root: string, id: string) => path.join(root, 'fleet', id);

/** A new manifest of `fleet` (its jobs still to be added). */
export function newManifest(fleet: Fleet, id: string, command: string, jobs: FleetJob[] = []): Manifest {
  return {
    manifest_version: 1,
    id,
    fleet: { name: fleet.name, file: fleet.file, engine: fleet.engine, root: fleet.root, command: fleet.command },
    created: new Date().toISOString(),
    command,
    jobs,
  };
}

export function saveManifest(m: Manifest): void {
  writeJsonAtomic(path.join(fleetDir(m.fleet.root, m.id), 'manifest.json'), m);
}

/** A submission of `root`: by id, or the latest one. */
export function readManifest(root: string, id?: string): Manifest {
  const base = path.join(root, 'fleet');
  const ids = existsSync(base) ? readdirSync(base).filter((d) => existsSync(path.join(base, d, 'manifest.json'))) : [];
  const pick = id ?? ids.sort().at(-1);
  if (!pick) throw new UserError(`no fleet submission under ${base} (run: ladder fleet submit)`);
  const file = path.join(base, pick, 'manifest.json');
  if (!existsSync(file))
    throw new UserError(`no fleet submission ${pick} under ${base} (known: ${ids.join(', ') || 'none'})`);
  try {
    const m = JSON.parse(readRegularFile(file)) as Manifest;
    if (m?.manifest_version !== 1 || !Array.isArray(m.jobs)) throw new UserError('not a fleet manifest');
    return m;
  } catch (err) {
    throw new UserError(`${file}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

export function engineFor(kind: Fleet['engine']): Engine {
  return kind === 'slurm' ? new SlurmEngine() : new LocalEngine(os.hostname());
}

/**
 * Writes each class's job script and submits it. A class the engine refuses (no node has its
 * feature, a bad partition) is recorded as failed with the engine's reason; the others still run.
 */
export async function submit(
  fleet: Fleet,
  engine: Engine,
  command: string,
  log: (l: string) => void,
): Promise<Manifest> {
  const id = runStamp();
  const dir = fleetDir(fleet.root, id);
  mkdirSync(dir, { recursive: true });
  const m = newManifest(fleet, id, command);
  for (const cls of fleet.classes) {
    const script = path.join(dir, `${cls.name}.sh`);
    writeFileAtomic(script, jobScript(fleet, cls, id));
    chmodSync(script, 0o755);
    // Slurm fills in %j (the job id): every night of a class keeps its own output.
    const output = path.join(dir, engine.name === 'slurm' ? `${cls.name}-%j.out` : `${cls.name}.out`);
    const job: FleetJob = { class: cls.name, state: 'pending', script, output };
    m.jobs.push(job);
    try {
      job.id = await engine.submit(fleet, cls, script, output);
      job.output = output.replace('%j', job.id);
      job.submitted = new Date().toISOString();
      log(`  ${cls.name}: job ${job.id}${cls.feature ? ` (-C ${cls.feature})` : ''}`);
    } catch (err) {
      if (!(err instanceof LadderError) || err instanceof UserError) throw err;
      job.state = 'failed';
      job.error = err.message;
      log(`  ${cls.name}: not submitted: ${err.message}`);
    }
    saveManifest(m);
  }
  return m;
}

/** Asks the engine for every job's state, records it, and says what changed. */
export async function refresh(m: Manifest, engine: Engine, log?: (l: string) => void): Promise<void> {
  const states = await engine.status(m.jobs.filter((j) => j.id && !FINAL.has(j.state)));
  for (const job of m.jobs) {
    const s = job.id ? states.get(job.id) : undefined;
    if (!s) continue;
    if (s.state !== job.state) log?.(`  ${job.class}: job ${job.id} ${s.state}${s.node ? ` on ${s.node}` : ''}`);
    job.state = s.state;
    job.node = s.node ?? job.node;
  }
  saveManifest(m);
}

/** Follows the jobs until every one has ended. */
export async function waitFor(m: Manifest, engine: Engine, pollS: number, log: (l: string) => void): Promise<void> {
  for (;;) {
    await refresh(m, engine, log);
    // A job Slurm no longer knows (past MinJobAge, no accounting) will not change either.
    if (m.jobs.every((j) => FINAL.has(j.state) || j.state === 'unknown')) return;
    await new Promise((r) => setTimeout(r, pollS * 1000));
  }
}
