// Every folder a test makes (helpers.ts tmpDir) lives under one root per test session, that is per
// vitest run: <tmp>/ladder-tests/<start ms>-<pid>. Tests never delete their own folders (a failure's
// files are its evidence), so a new session removes the roots of finished sessions but the two newest
// (the last `npm test`: its main run and its machine tier). A session still running is never touched.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alive } from '../src/lock.ts';

const VARIABLE = 'LADDER_TEST_SESSION';
const KEEP = 2;

/** Removes the roots under `base` of sessions whose process is gone, but the `KEEP` newest. */
export function pruneSessions(base: string): string[] {
  const finished = readdirSync(base)
    .map((name) => ({ name, m: /^(\d+)-(\d+)$/.exec(name) }))
    .filter((s) => s.m && !alive(Number(s.m[2])))
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]))
    .slice(0, -KEEP)
    .map((s) => s.name);
  for (const name of finished) rmSync(path.join(base, name), { recursive: true, force: true });
  return finished;
}

/** This process's session root, made (and older ones pruned) on first use; the tests' processes inherit it. */
export function sessionRoot(base = path.join(os.tmpdir(), 'ladder-tests')): string {
  const current = process.env[VARIABLE];
  if (current) return current;
  mkdirSync(base, { recursive: true });
  pruneSessions(base);
  const root = path.join(base, `${Date.now()}-${process.pid}`);
  mkdirSync(root);
  process.env[VARIABLE] = root;
  return root;
}
