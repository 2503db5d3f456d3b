// A real machine that drifts on purpose: the run goes into a cgroup (v1 cpu controller) whose CPU
// quota is cut to half a CPU partway through, which slows a 1-thread worker about 2x. Two identical
// torch rungs then read far apart when measured one after the other, and about 1.0 when interleaved.
// The cut is triggered by the run's own progress (its run.json), not by a clock. Tests of this tier run
// alone (vitest.machine.config.ts): anything else on the 2 cores would be drift of its own.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { median } from '../../src/results/stats.ts';
import { BIN, tmpDir, waitFor } from '../helpers.ts';

const CPU = '/sys/fs/cgroup/cpu';
// A 10 ms period: throttling at a grain finer than one pass, so every pass is slowed alike.
const PERIOD_US = 10_000;
const groups: string[] = [];

function cgroup(): { dir: string; quota: (share: number | undefined) => void } {
  if (!existsSync(path.join(CPU, 'cpu.cfs_quota_us')))
    throw new Error(`this test needs the cgroup v1 cpu controller at ${CPU} (and root)`);
  const dir = path.join(CPU, `ladder-drift-${process.pid}-${groups.length}`);
  mkdirSync(dir);
  groups.push(dir);
  writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
  const quota = (share: number | undefined) =>
    writeFileSync(
      path.join(dir, 'cpu.cfs_quota_us'),
      share === undefined ? '-1' : String(Math.round(share * PERIOD_US)),
    );
  quota(undefined);
  return { dir, quota };
}

afterAll(() => {
  for (const g of groups) {
    // Processes left in it (none, normally) go back to the root group before it is removed.
    for (const pid of readFileSync(path.join(g, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean))
      writeFileSync(path.join(CPU, 'cgroup.procs'), pid);
    rmdirSync(g);
  }
});

const LADDER = [
  'name: twins',
  'rungs:',
  '  - {id: a, backend: torch, launcher: {threads: 1}}',
  '  - {id: b, extends: a, description: the same rung again}',
].join('\n');
const SCENARIO = [
  '--model',
  'synthetic:tiny',
  '--steps',
  '8',
  '--warmup-steps',
  '2',
  '--height',
  '128',
  '--width',
  '128',
];

/** Runs the twins ladder inside a fresh cgroup; `cutWhen(run)` says when to cut the quota to half a CPU. */
async function runInCgroup(args: string[], cutWhen: (run: any) => boolean) {
  const dir = tmpDir();
  const file = path.join(dir, 'twins.yaml');
  writeFileSync(file, LADDER);
  const out = path.join(dir, 'run');
  const cg = cgroup();
  // The shell enters the cgroup, then becomes ladder: every worker it starts is born inside.
  const child = execa(
    'sh',
    [
      '-c',
      `echo $$ > ${cg.dir}/cgroup.procs && exec "$@"`,
      'sh',
      'node',
      BIN,
      'reproduce',
      '--ladder',
      file,
      '--out',
      out,
      '--no-roofline',
      ...SCENARIO,
      ...args,
    ],
    { reject: false, all: true },
  );
  const runJson = path.join(out, 'run.json');
  const read = () => (existsSync(runJson) ? JSON.parse(readFileSync(runJson, 'utf8')) : undefined);
  let cut = false;
  const watching = waitFor(() => {
    try {
      const run = read();
      if (run && cutWhen(run)) {
        cg.quota(0.5);
        cut = true;
      }
    } catch {} // a run.json being replaced: read it again next time
    return cut || child.exitCode !== null;
  }, 900_000);
  const r = await child;
  await watching;
  expect(r.exitCode, r.all).toBe(0);
  expect(cut, 'the quota was never cut').toBe(true);
  return read();
}

const b = (run: any) => run.rungs.find((r: { id: string }) => r.id === 'b');

describe('two identical rungs while the machine slows to half a CPU', () => {
  it('one after the other, the second reads far slower than the first', async () => {
    const run = await runInCgroup(['--rounds', '1', '--passes', '6', '--no-machine-probe'], (run) =>
      run.rungs.some((r: { id: string; status: string }) => r.id === 'a' && r.status === 'ok'),
    );
    expect(b(run).speedup_vs_baseline).toBeLessThan(0.8);
  }, 900_000);

  it('interleaved in rounds, they read 1.0 ± 0.2, and the probe between rounds saw the cut', async () => {
    // 3 rounds, the cut before the last: each round starts a worker per rung and one for the probe, and
    // a round after the cut takes twice as long (4 rounds, two a side, took 77 s of the tier's 118 s).
    // Two rounds before it give the probe a level to fall from; one after it shows the slow level.
    const rounds = 3;
    const cutBefore = rounds - 1;
    const run = await runInCgroup(
      ['--rounds', String(rounds), '--passes', '3', '--order-seed', '3'],
      (run) => (run.rounds?.done.length ?? 0) > cutBefore,
    );
    expect(run.rounds.done).toHaveLength(rounds);
    // The cut came between two rounds (the round's order is saved before its first rung runs).
    const cutAt = run.rounds.done.findIndex(
      (d: { probe?: { fp32: number } }, i: number) => i > 0 && d.probe!.fp32 < 0.7 * run.rounds.done[1].probe.fp32,
    );
    expect(cutAt).toBe(cutBefore);
    const ratio = b(run).paired.vs_baseline.ratio;
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.2);
    // Both rungs did slow down: their rounds after the cut are well below those before it.
    for (const id of ['a', 'b']) {
      const level = run.rungs.find((r: { id: string }) => r.id === id).rounds.map((x: any) => x.median_s);
      expect(median(level.slice(cutBefore)) / median(level.slice(0, cutBefore)), id).toBeGreaterThan(1.5);
    }
  }, 900_000);
});
