// run.json: one self-describing file per run (machine, versions, config, raw samples), as asv does.
import { execaSync } from 'execa';
import { mkdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../paths.ts';
import type { Machine } from './machine.ts';
import type { Stats } from './stats.ts';

export const SCHEMA_VERSION = 1;

export interface RungResult {
  id: string;
  status: 'ok' | 'failed' | 'running';
  error?: string;
  config: Record<string, unknown>;
  effective?: Record<string, unknown>;
  samples_s: number[];
  stats?: Stats;
  timings?: Record<string, number>;
  compare_to?: string;
  speedup_vs_baseline?: number;
  speedup_vs_previous?: number;
  article?: { seed_s?: number; published_s?: number };
}

export interface RunFile {
  schema_version: number;
  tool: { name: 'ladder'; version: string; git_revision?: string };
  command: string;
  /** The ladder the rungs came from: its first rung is the baseline; the article figures of every rung. */
  ladder?: { name: string; file: string; baseline: string; figures: Record<string, { seed_s?: number; published_s?: number }> };
  started: string;
  finished?: string;
  machine: Machine;
  rungs: RungResult[];
}

export function gitRevision(): string | undefined {
  try {
    return execaSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot }).stdout.trim();
  } catch {
    return undefined;
  }
}

/** Write then rename: a killed run leaves the previous complete file, never half of one. */
export function writeJsonAtomic(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeFileSync(fd, `${JSON.stringify(data, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
