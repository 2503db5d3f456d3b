// One night: under the machine's lock, a run into its history (or the interrupted one resumed),
// judged against the earlier nights, with the verdicts and package changes written into its run.json.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { topLevelPackages } from '../envs/stacks.ts';
import { lockOwner, tryLock, unlock } from '../lock.ts';
import { machine, machineId } from '../machine.ts';
import { checkWritableDir, newRunDir } from '../out-dir.ts';
import { type RunFile, readHistory, writeRunFile } from '../results/run-file.ts';
import { executeRun, type Log, type RunSettings } from '../run/execute.ts';
import { checkResumable } from '../run/store.ts';
import type { Ladder, Rung } from '../rungs/ladder.ts';
import {
  attributeChanges,
  type JudgeOptions,
  judge,
  type RungVerdict,
  type VersionChange,
  versionChanges,
} from './judge.ts';

export interface NightOptions {
  ladder: Ladder;
  rungs: Rung[];
  /** The history root: one folder per machine, one run folder per night. */
  historyRoot: string;
  /** Continue the machine's last unfinished night instead of starting one. */
  resume: boolean;
  judge: JudgeOptions;
  /** The run's settings for a run into `outDir`, every flag checked (a resumed night must match them). */
  settings: (outDir: string) => RunSettings;
  log: Log;
}

export type Night =
  | { locked: true; lock: string; owner?: number }
  | { locked: false; id: string; dir: string; run: RunFile; verdicts: RungVerdict[]; changes: VersionChange[] };

export async function runNight(o: NightOptions): Promise<Night> {
  const id = machineId(machine());
  const machineDir = path.join(checkWritableDir(o.historyRoot, '--history'), id);
  const lock = path.join(machineDir, '.lock');
  mkdirSync(machineDir, { recursive: true });
  // Two runs on one machine would disturb each other; a lock whose owner died is taken over.
  if (!tryLock(lock)) return { locked: true, lock, owner: lockOwner(lock)?.pid };
  try {
    const { runs: history, skipped } = readHistory(machineDir);
    for (const s of skipped) o.log(`ladder: warning: skipping ${s.file}: ${s.reason}`);
    const unfinished = o.resume ? [...history].reverse().find((h) => !h.run.finished) : undefined;
    // Every flag checked (and a resume proven compatible) before the night's folder is made: a night
    // that fails validation leaves no empty folder behind.
    const checked = o.settings(unfinished?.dir ?? machineDir);
    if (unfinished) checkResumable(unfinished.run, o.ladder, checked, o.rungs);
    const settings = { ...checked, outDir: unfinished?.dir ?? newRunDir(machineDir, '') };
    if (o.resume) o.log(unfinished ? `resuming ${unfinished.dir}` : 'nothing to resume: starting a new run');
    const run = await executeRun(o.ladder, o.rungs, settings, o.log, unfinished?.run);
    const earlier = history.filter((h) => h.dir !== settings.outDir && h.run.finished).map((h) => h.run);
    const changes = versionChanges(earlier[earlier.length - 1], run);
    const verdicts = attributeChanges(judge(run, earlier, o.judge), run, changes, topLevelPackages);
    run.nightly = { machine_id: id, verdicts, version_changes: changes };
    writeRunFile(settings.outDir, run);
    return { locked: false, id, dir: settings.outDir, run, verdicts, changes };
  } finally {
    unlock(lock);
  }
}
