import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../src/paths.ts';

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

export function tmpDir(prefix = 'ladder-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Runs the real CLI as a user would; never throws, returns exit code and output. */
export function ladder(args: string[], env: Record<string, string> = {}) {
  return execa('node', [BIN, ...args], { reject: false, all: true, env });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}
