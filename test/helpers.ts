import { Console } from 'node:console';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { main } from '../src/cli.ts';
import { repoRoot } from '../src/paths.ts';
import { sessionRoot } from './session.ts';

export const BIN = path.join(repoRoot, 'bin', 'ladder.js');
/** Small shapes and few steps: the real pipeline structure, seconds per run. */
// The machine probe has its own tests (the smoke ladder, the nightly one): elsewhere it only costs time.
// The smoke profile runs one round: interleaved rounds have their own tests (interleave.test.ts).
export const TINY = [
  '--profile',
  'smoke',
  '--no-machine-probe',
  '--model',
  'synthetic:tiny',
  '--steps',
  '2',
  '--warmup-steps',
  '1',
  '--height',
  '64',
  '--width',
  '64',
];
/** Any rung on the sleep (mock) backend: the real worker and socket, scripted pass times, no model. */
export const MOCK = [
  '--profile',
  'smoke',
  '--set',
  'backend=sleep',
  '--model',
  'none',
  '--steps',
  '2',
  '--warmup-steps',
  '1',
  '--no-roofline',
];

/** A fresh folder under this test session's root (test/session.ts prunes old sessions). */
export function tmpDir(prefix = 'ladder-test-'): string {
  return mkdtempSync(path.join(sessionRoot(), prefix));
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as written. */
  all: string;
}

/** Runs the real CLI as a user would, in its own process; never throws (the child is there to kill). */
export function ladderProcess(args: string[], env: Record<string, string> = {}) {
  return execa('node', [BIN, ...args], { reject: false, all: true, env });
}

let inFlight = false;

/**
 * Runs the CLI's `main` in this process, with stdout, stderr and the environment of its own for the
 * call: the same code, yargs set-up and error reporting as `bin/ladder.js` less a Node start and a
 * TypeScript load (0.7 s of CPU each, which made the fast tier CPU-bound). What only a process has
 * (signals, its own pid for locks, EPIPE) is tested through `ladderProcess`, and test/mock/cli.test.ts
 * checks that both give the same output and exit code. One call at a time: a test running commands
 * side by side uses `ladderProcess`.
 */
export async function ladder(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  if (inFlight) throw new Error('ladder(): one in-process command at a time (use ladderProcess)');
  inFlight = true;
  const savedEnv = { ...process.env };
  Object.assign(process.env, env);
  const streams = { stdout: [] as string[], stderr: [] as string[], all: [] as string[] };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  const sink =
    (name: 'stdout' | 'stderr') =>
    (chunk: string | Uint8Array, enc?: unknown, cb?: unknown): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      streams[name].push(text);
      streams.all.push(text);
      const done = typeof enc === 'function' ? enc : cb;
      if (typeof done === 'function') done();
      return true;
    };
  const savedConsole = globalThis.console;
  process.stdout.write = sink('stdout') as typeof process.stdout.write;
  process.stderr.write = sink('stderr') as typeof process.stderr.write;
  globalThis.console = new Console(process.stdout, process.stderr);
  let exitCode: number;
  try {
    exitCode = await main(args);
  } finally {
    globalThis.console = savedConsole;
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
    inFlight = false;
  }
  // execa's stdout/stderr drop the final newline: so do these.
  const text = (parts: string[]) => parts.join('').replace(/\n$/, '');
  return { exitCode, stdout: text(streams.stdout), stderr: text(streams.stderr), all: text(streams.all) };
}

export async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

/**
 * `ladder reproduce` of a ladder given as YAML text, written to `<dir>/ladder.yaml`, its run in `<dir>/run`:
 * the CLI's result, the run file, and its rungs by id.
 */
export async function reproduceYaml(dir: string, yaml: string, args: string[]) {
  const file = path.join(dir, 'ladder.yaml');
  writeFileSync(file, yaml);
  const out = path.join(dir, 'run');
  const result = await ladder(['reproduce', '--ladder', file, ...args, '--out', out]);
  const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as any;
  const byId: Record<string, any> = Object.fromEntries(run.rungs.map((r: { id: string }) => [r.id, r]));
  return { result, run, byId, out };
}
