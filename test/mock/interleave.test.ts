// Interleaved rounds against a drifting machine, on the sleep (mock) backend: the machine is scripted
// (slower over virtual time since the run began, with a step, shared by every worker through one
// clock file), so every figure is exact and no verdict depends on the real machine's timing.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pairedRatio, precise } from '../../src/results/paired.ts';
import { ladder, ladderProcess, tmpDir } from '../helpers.ts';

// True seconds per pass: fast is 2x the baseline, mid 4/3 x.
const PASS_S = { base: 0.02, fast: 0.01, mid: 0.015 };
const TRUE = { fast: 2, mid: 4 / 3 };
const RUN = ['--model', 'none', '--steps', '2', '--warmup-steps', '1', '--no-roofline', '--order-seed', '7'];

/**
 * A ladder on a machine that slows 1.6x over `length` virtual seconds, with a 1.25x step at 40% of
 * it: the run's own length, so both orders see the whole drift.
 */
function driftLadder(dir: string, length: number): string {
  const clock = path.join(dir, 'clock');
  const drift = JSON.stringify([
    [0, 1],
    [0.4 * length, 1.24],
    [0.4 * length, 1.55],
    [length, 2.0],
  ]);
  const file = path.join(dir, 'drift.yaml');
  writeFileSync(
    file,
    [
      'name: drift',
      'rungs:',
      `  - {id: base, backend: sleep, options: {pass_s: ${PASS_S.base}, drift: ${drift}, drift_clock: ${clock}}}`,
      `  - {id: fast, extends: base, options: {pass_s: ${PASS_S.fast}}}`,
      `  - {id: mid, extends: base, options: {pass_s: ${PASS_S.mid}}}`,
    ].join('\n'),
  );
  return file;
}

type Json = { rungs: { id: string; speedup_vs_baseline?: number; rounds?: unknown[] }[]; rounds?: any };
const read = (out: string): Json => JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
const speedup = (json: Json, id: string) => json.rungs.find((r) => r.id === id)!.speedup_vs_baseline!;
// Virtual seconds of one process of each rung at the true speed (a warm-up and the passes).
const perProcess = (passes: number) => (PASS_S.base + PASS_S.fast + PASS_S.mid) * (passes + 1);

describe('a ladder on a drifting machine', () => {
  it('measured one rung after another, gets a ratio wrong by more than 20%', async () => {
    const dir = tmpDir();
    const out = path.join(dir, 'run');
    const r = await ladder([
      'reproduce',
      '--ladder',
      driftLadder(dir, perProcess(12)),
      '--out',
      out,
      ...RUN,
      '--rounds',
      '1',
      '--passes',
      '12',
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const json = read(out);
    const errors = Object.entries(TRUE).map(([id, t]) => Math.abs(speedup(json, id) / t - 1));
    expect(Math.max(...errors)).toBeGreaterThan(0.2);
  }, 300_000);

  it('interleaved in rounds, recovers every true ratio within 3%', async () => {
    const dir = tmpDir();
    const out = path.join(dir, 'run');
    const rounds = 8;
    const r = await ladder([
      'reproduce',
      '--ladder',
      driftLadder(dir, rounds * perProcess(1)),
      '--out',
      out,
      ...RUN,
      '--rounds',
      String(rounds),
      '--passes',
      '1',
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const json = read(out);
    for (const [id, t] of Object.entries(TRUE)) expect(Math.abs(speedup(json, id) / t - 1), id).toBeLessThan(0.03);
    // The orders are recorded: round 1 in the ladder's order, the reference neither always first nor always last.
    const orders: string[][] = json.rounds.done.map((d: { order: string[] }) => d.order);
    expect(orders).toHaveLength(rounds);
    expect(orders[0]).toEqual(['base', 'fast', 'mid']);
    const slots = new Set(orders.map((o) => o.indexOf('base')));
    expect(slots.size).toBe(3);
    // Each round a fresh worker per rung, and the machine probe read the drift between rounds.
    const pids = json.rungs.flatMap((x: any) => x.rounds.map((y: { pid: number }) => y.pid));
    expect(new Set(pids).size).toBe(3 * rounds);
    const probes = json.rounds.done.slice(1).map((d: any) => d.probe.fp32);
    expect(probes.at(-1)).toBeLessThan(probes[0]);
  }, 300_000);
});

describe('--precision', () => {
  it('adds rounds until every paired interval is as narrow as asked, and not one more', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'noisy.yaml');
    // Each process lands at its own level (5% sd): the rounds' ratios scatter, the interval narrows.
    writeFileSync(
      file,
      [
        'name: noisy',
        'rungs:',
        '  - {id: base, backend: sleep, options: {pass_s: 0.02, process_noise: 0.05, noise_seed: 1}}',
        '  - {id: fast, extends: base, options: {pass_s: 0.01, noise_seed: 2}}',
      ].join('\n'),
    );
    const out = path.join(dir, 'run');
    const precision = 0.04;
    const r = await ladder([
      'reproduce',
      '--ladder',
      file,
      '--out',
      out,
      ...RUN,
      '--passes',
      '1',
      '--rounds',
      '2',
      '--precision',
      '4%',
      '--max-rounds',
      '40',
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const json = read(out) as any;
    expect(json.rounds.stopped).toBe('precision');
    const n = json.rounds.done.length;
    const rungs = Object.fromEntries(json.rungs.map((x: any) => [x.id, x.rounds]));
    const upTo = (k: number) =>
      pairedRatio(
        'base',
        rungs.base.filter((x: { round: number }) => x.round < k),
        rungs.fast.filter((x: { round: number }) => x.round < k),
      )!;
    // Narrow enough after n rounds, not after n - 1: it stopped as soon as it could.
    expect(precise(upTo(n), precision)).toBe(true);
    expect(precise(upTo(n - 1), precision)).toBe(false);
    expect(n).toBeGreaterThan(6); // this noise needs more than the 6 rounds a 95% interval takes
    expect(r.stdout).toMatch(/about \d+ rounds in all for ±4%/);
  }, 300_000);
});

describe('reproduce --resume in an interleaved run', () => {
  const RUNGS = [
    '  - {id: base, backend: sleep, options: {pass_s: 0.02}}',
    '  - {id: fast, extends: base, options: {pass_s: 0.01}}',
    '  - {id: slow, extends: base, options: {pass_s: 0.03}}',
  ];
  /** A run of the first `n` rungs in `rounds` rounds, SIGKILLed once its output matches `killAt`. */
  async function killedRun(n: number, rounds: number, killAt: RegExp) {
    const dir = tmpDir();
    const file = path.join(dir, 'ladder.yaml');
    writeFileSync(file, ['name: resumed', 'rungs:', ...RUNGS.slice(0, n)].join('\n'));
    const out = path.join(dir, 'run');
    const args = ['reproduce', '--ladder', file, ...RUN, '--passes', '2', '--rounds', String(rounds)];
    const child = ladderProcess([...args, '--out', out]);
    let seen = '';
    child.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (killAt.test(seen)) child.kill('SIGKILL');
    });
    await child;
    return { out, args };
  }

  it('continues in the round it was killed in: no measured round is repeated or lost', async () => {
    const { out, args } = await killedRun(2, 3, /rung \S+ \(round 2, 2\/2/); // in round 2's second rung
    const killed = read(out) as any;
    expect(killed.finished).toBeUndefined();
    const before = Object.fromEntries(
      killed.rungs.map((r: any) => [r.id, r.rounds.map((x: any) => `${x.round}:${x.pid}`)]),
    );
    const r = await ladder([...args, '--resume', out]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/kept from the interrupted run/);
    const run = read(out) as any;
    expect(run.finished).toBeDefined();
    expect(run.rounds.done.map((d: { round: number }) => d.round)).toEqual([0, 1, 2]);
    for (const rung of run.rungs) {
      const now = rung.rounds.map((x: any) => `${x.round}:${x.pid}`);
      expect(now.slice(0, before[rung.id].length), rung.id).toEqual(before[rung.id]); // kept as measured
      expect(
        rung.rounds.map((x: { round: number }) => x.round),
        rung.id,
      ).toEqual([0, 1, 2]); // none twice
      expect(rung.samples_s, rung.id).toHaveLength(6);
    }
  }, 300_000);

  it('resumed with a rung left out: its round lists only what runs, and a round that ran nothing is not timed', async () => {
    const { out, args } = await killedRun(3, 2, /rung slow \(round 1, /); // as slow starts in round 1
    const order = (read(out) as any).rounds.done[0].order as string[];
    expect(order).toContain('slow');
    // Round 1's other rungs are kept, slow is left out: round 1 runs no worker, round 2 runs two.
    const r = await ladder([...args, '--skip', 'slow', '--resume', out]);
    expect(r.exitCode, r.all).toBe(0);
    const kept = order.filter((id) => id !== 'slow');
    expect(r.stdout).toContain(`round 1/2: ${kept.join(', ')}\n`);
    expect(r.stdout).not.toMatch(/^round \d\/2: .*\bslow\b/m);
    // No estimate from a round that measured nothing ("about 0 s a round"), none needed before the last.
    expect(r.stdout).not.toMatch(/^rounds: about/m);
    const run = read(out) as any;
    expect(run.rungs.map((x: { id: string }) => x.id).sort()).toEqual(['base', 'fast']);
    for (const rung of run.rungs)
      expect(
        rung.rounds.map((x: { round: number }) => x.round),
        rung.id,
      ).toEqual([0, 1]);
  }, 300_000);
});
