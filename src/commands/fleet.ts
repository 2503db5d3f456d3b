// `ladder fleet`: the ladder on many machines through an existing engine (Slurm, or this machine
// one class after another). ladder writes job scripts, calls the engine's commands and reads results.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.ts';
import { writeJsonAtomic } from '../files.ts';
import { loadFleet } from '../fleet/config.ts';
import { FINAL } from '../fleet/engine.ts';
import { gather, twinsLine } from '../fleet/gather.ts';
import { LocalEngine } from '../fleet/local.ts';
import { engineFor, fleetDir, newManifest, readManifest, refresh, submit, waitFor } from '../fleet/manifest.ts';
import { writeFleetReports } from '../fleet/report.ts';
import { checkWritableDir } from '../out-dir.ts';
import { checkNumber } from '../rungs/settings.ts';
import { commandLine } from '../shell.ts';
import { jsonOption, printJson } from './options.ts';

interface FleetArgs {
  fleet: string;
  id?: string;
  wait: boolean;
  poll: number;
  out?: string;
  all: boolean;
  json: boolean;
}

const log = (line: string) => console.log(line);
const command = () => commandLine();

function manifestOf(a: FleetArgs) {
  const fleet = loadFleet(a.fleet);
  // --all: no submission, every run of the root's history, each class expected once.
  const m = a.all
    ? newManifest(
        fleet,
        'all',
        command(),
        fleet.classes.map((c) => ({ class: c.name, state: 'unknown', script: '', output: '' })),
      )
    : readManifest(fleet.root, a.id);
  return { fleet, m, engine: engineFor(m.fleet.engine) };
}

/** The actions and what each does: the positional's choices and what `ladder fleet` alone lists. */
const ACTIONS = {
  submit: 'one job per machine class',
  status: 'the jobs, from the engine',
  gather: 'collect their runs',
  report: 'the cross-machine page',
  cancel: 'the jobs not ended',
};
const actionList = Object.entries(ACTIONS)
  .map(([k, v]) => `${k} (${v})`)
  .join(', ');

export const fleetCommand = {
  command: 'fleet [action]',
  describe: 'Run the ladder on a fleet of machines through Slurm (or locally) and gather one cross-machine view',
  builder: (y: Argv) =>
    jsonOption(y, 'status: the jobs')
      .positional('action', {
        type: 'string',
        choices: Object.keys(ACTIONS),
        describe: Object.entries(ACTIONS)
          .map(([k, v]) => `${k}: ${v}`)
          .join('; '),
      })
      .option('fleet', { type: 'string', default: 'fleet.yaml', describe: 'the fleet file' })
      .option('id', { type: 'string', describe: 'the submission (fleet/<id>/ under the root; default: the latest)' })
      .option('wait', { type: 'boolean', default: false, describe: 'submit: follow the jobs until they end' })
      .option('poll', { type: 'number', default: 30, describe: 'seconds between two looks at the jobs (--wait)' })
      .option('all', {
        type: 'boolean',
        default: false,
        describe: "gather/report: every run of the root's history, not one submission's (runs copied from elsewhere)",
      })
      .option('out', { type: 'string', describe: "report: the folder of the page (default: the submission's folder)" })
      .example('$0 fleet submit --fleet fleet.yaml --wait', 'one job per machine class, followed to the end')
      .example('$0 fleet status --json', 'the jobs of the latest submission, as JSON'),
  handler: async (a: FleetArgs & { action?: string }) => {
    if (a.action === undefined) throw new UserError(`fleet: name an action: ${actionList}`);
    if (a.json && a.action !== 'status') throw new UserError(`--json: fleet status only, not fleet ${a.action}`);
    checkNumber('poll', a.poll, { min: 0.1, max: 3600 });
    if (a.action === 'submit') {
      const fleet = loadFleet(a.fleet);
      log(`fleet ${fleet.name}: ${fleet.classes.length} classes through ${fleet.engine}`);
      const engine = engineFor(fleet.engine);
      const m = await submit(fleet, engine, command(), log);
      log(`manifest: ${path.join(fleetDir(fleet.root, m.id), 'manifest.json')}`);
      // Local jobs live in this process: it stays until they have run, one after another.
      if (engine instanceof LocalEngine) await engine.idle();
      if (a.wait || engine instanceof LocalEngine) await waitFor(m, engine, a.poll, log);
      const failed = m.jobs.filter((j) => j.state !== 'completed' && FINAL.has(j.state));
      if (failed.length) process.exitCode = 1;
      return;
    }
    const { fleet, m, engine } = manifestOf(a);
    if (a.all && (a.action === 'status' || a.action === 'cancel'))
      throw new UserError(`--all: only for gather and report`);
    if (a.action === 'status') {
      await refresh(m, engine);
      if (a.json) return printJson({ fleet: fleet.name, id: m.id, engine: m.fleet.engine, jobs: m.jobs });
      for (const j of m.jobs)
        log(
          `${j.class.padEnd(12)} ${(j.id ?? '-').padEnd(12)} ${j.state.padEnd(10)} ${j.node ?? ''}${j.error ? ` ${j.error}` : ''}`,
        );
      return;
    }
    if (a.action === 'cancel') {
      await engine.cancel(m.jobs.filter((j) => j.id && !FINAL.has(j.state)));
      await refresh(m, engine, log);
      return;
    }
    const g = gather(m, a.all);
    for (const s of g.skipped) console.error(`ladder: warning: skipping ${s.file}: ${s.reason}`);
    for (const t of g.twins) console.error(`ladder: warning: ${twinsLine(t)}`);
    for (const x of g.missing)
      log(`missing: class ${x.class} has no finished run (job ${x.state}${x.error ? `: ${x.error}` : ''})`);
    const dir = fleetDir(fleet.root, m.id);
    mkdirSync(dir, { recursive: true });
    if (a.action === 'gather') {
      writeJsonAtomic(path.join(dir, 'gathered.json'), {
        fleet: g.fleet,
        runs: g.runs.map((r) => ({ machine_id: r.machine_id, class: r.class, dir: r.dir, job: r.run.scheduler })),
        missing: g.missing,
        twins: g.twins,
      });
      for (const r of g.runs) log(`${(r.class ?? '?').padEnd(12)} ${r.machine_id.padEnd(14)} ${r.dir}`);
      if (g.missing.length) process.exitCode = 1;
      return;
    }
    const out = checkWritableDir(a.out ?? dir, '--out');
    await writeFleetReports(m, g, out);
    log(`report: ${path.join(out, 'fleet.html')}`);
  },
};
