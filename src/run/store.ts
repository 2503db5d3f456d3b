// A run on disk: created (or resumed), saved after every rung, finished with its reports. Every file
// is written atomically, so a killed run keeps everything it had measured.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Channel } from '../envs/stacks.ts';
import { RunError, UserError } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import { setRunFile } from '../interrupt.ts';
import { machine } from '../machine.ts';
import { repoRoot } from '../paths.ts';
import { gitRevision, schedulerInfo } from '../provenance.ts';
import { writeReports } from '../render/html.ts';
import { renderReport } from '../render/report.ts';
import { type RunFile, type RungResult, SCHEMA_VERSION, writeRunFile } from '../results/run-file.ts';
import { addSpeedups } from '../results/speedups.ts';
import { type Ladder, type Rung, withThreads } from '../rungs/ladder.ts';
import type { Scenario } from '../rungs/settings.ts';
import type { Log } from './rung.ts';

export const TOOL_VERSION: string = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version;

/**
 * An interrupted run may be continued only with what it measured: the same ladder, model and
 * scenario. Mixing a 64x64 pass into a 512x512 run would make its figures meaningless.
 */
export function checkResumable(
  previous: RunFile,
  ladder: Ladder,
  settings: { model: string; scenario: Scenario; threads?: number; envs?: Channel },
  rungs: Rung[] = [],
): void {
  const first = previous.rungs[0]?.config as { model?: unknown; scenario?: unknown } | undefined;
  const diffs: string[] = [];
  if (previous.ladder && (previous.ladder.name !== ladder.name || previous.ladder.file !== ladder.file)) {
    diffs.push(`ladder ${previous.ladder.file} vs ${ladder.file}`);
  }
  if (first && first.model !== settings.model) diffs.push(`model ${String(first.model)} vs ${settings.model}`);
  const was = (first?.scenario ?? {}) as Record<string, unknown>;
  // How many passes changes how many samples there are, not what one measures (as in compare).
  const counts = new Set(['passes', 'min_time_s', 'max_passes']);
  for (const [k, v] of Object.entries(settings.scenario)) {
    if (k in was && !counts.has(k) && JSON.stringify(was[k]) !== JSON.stringify(v))
      diffs.push(`${k} ${JSON.stringify(was[k])} vs ${JSON.stringify(v)}`);
  }
  // What each rung runs with (--set, --threads): a resumed night must not mix configurations.
  for (const r of rungs) {
    const before = previous.rungs.find((p) => p.id === r.id)?.config as Record<string, unknown> | undefined;
    if (!before) continue;
    const now = withThreads(r, settings.threads) as unknown as Record<string, unknown>;
    // Only what the earlier run recorded (a file from an older ladder may lack a field).
    for (const k of ['backend', 'env', 'launcher', 'options'].filter((f) => f in before))
      if (JSON.stringify(canonical(before[k])) !== JSON.stringify(canonical(now[k])))
        diffs.push(`rung ${r.id} ${k} ${JSON.stringify(before[k])} vs ${JSON.stringify(now[k])}`);
  }
  const channels = new Set(Object.values(previous.environments ?? {}).map((e) => e.channel ?? 'pinned'));
  const envs = settings.envs ?? 'pinned';
  if (channels.size && !channels.has(envs)) diffs.push(`--envs ${[...channels].join('/')} vs ${envs}`);
  if (diffs.length) {
    throw new UserError(
      `cannot resume ${previous.started}: it measured something else (${diffs.join(', ')}); give the same flags, or start a new run`,
    );
  }
}

/** A value with its object keys sorted, so that two equal configurations serialize alike. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}

export class RunStore {
  private constructor(
    readonly dir: string,
    readonly run: RunFile,
    /** The rungs of an interrupted run (--resume): the finished ones are kept as measured. */
    private readonly previous: RungResult[] = [],
  ) {
    setRunFile(path.join(dir, 'run.json')); // what an interrupt points the user to
  }

  static create(dir: string, ladder: Ladder, command: string): RunStore {
    const run: RunFile = {
      schema_version: SCHEMA_VERSION,
      tool: { name: 'ladder', version: TOOL_VERSION, git_revision: gitRevision() },
      command,
      ladder: {
        name: ladder.name,
        file: ladder.file,
        baseline: ladder.rungs[0]!.id,
        figures: Object.fromEntries(ladder.rungs.filter((r) => r.article).map((r) => [r.id, r.article!])),
      },
      started: new Date().toISOString(),
      machine: machine(),
      scheduler: schedulerInfo(),
      rungs: [],
    };
    return new RunStore(dir, run);
  }

  /**
   * Continues `previous` in its own folder. Interrupted in its first round: its finished rungs are
   * kept, the others run again. Later: every rung keeps its rounds, and the run goes on in the round
   * it was in.
   */
  static resume(dir: string, previous: RunFile): RunStore {
    const done = previous.rounds?.done ?? [];
    if (done.length > 1 || done[0]?.finished) return new RunStore(dir, { ...previous, finished: undefined });
    return new RunStore(dir, { ...previous, rungs: [] }, previous.rungs);
  }

  get file(): string {
    return path.join(this.dir, 'run.json');
  }

  /**
   * Rungs of the interrupted run that this one did not run again (not selected now): kept as they
   * were, after the others, so resuming never drops what was measured.
   */
  keepRest(): void {
    this.run.rungs.push(...this.rest());
  }

  /** The interrupted run's rungs this one has not run again; one cut off mid-measure has no figure to keep. */
  private rest(): RungResult[] {
    const ids = new Set(this.run.rungs.map((r) => r.id));
    return this.previous.filter((r) => !ids.has(r.id) && r.status !== 'running');
  }

  /** The finished result of `id` from the interrupted run, now part of this one. */
  keep(id: string): boolean {
    const done = this.previous.find((r) => r.id === id && r.status === 'ok');
    if (done) this.run.rungs.push(done);
    return !!done;
  }

  add(slot: RungResult, log?: Log): RungResult {
    this.run.rungs.push(slot);
    this.save(log);
    return slot;
  }

  /** Why the last save failed (a full disk): measuring goes on, the previous run.json stays intact. */
  private saveError?: Error;

  /** run.json and report.md, after every change. */
  save(log?: Log): void {
    // Until keepRest(), the interrupted run's rungs not run again are written too: a resumed run that
    // is itself cut off must not lose them from its folder.
    const rest = this.rest();
    const file = rest.length ? { ...this.run, rungs: [...this.run.rungs, ...rest] } : this.run;
    addSpeedups(file);
    try {
      writeRunFile(this.dir, file);
      writeFileAtomic(path.join(this.dir, 'report.md'), renderReport(file));
      this.saveError = undefined;
    } catch (err) {
      if (!this.saveError)
        log?.(`  cannot save ${this.file} (${(err as Error).message}): the previous one stays as it was`);
      this.saveError = err as Error;
    }
  }

  async finish(log: Log): Promise<RunFile> {
    this.run.finished = new Date().toISOString();
    this.save(log);
    if (this.saveError) {
      throw new RunError(
        `the results could not be saved in ${this.dir} (${this.saveError.message}); its run.json holds what was saved before`,
        { cause: this.saveError, stage: 'report' },
      );
    }
    try {
      await writeReports(this.run, this.dir); // report.md, results.csv, report.html, chart.svg/png
    } catch (err) {
      log(`  reports: ${(err as Error).message} (run.json is complete; retry with: ladder report ${this.dir})`);
    }
    log(`results: ${this.file}`);
    return this.run;
  }
}
