// Nightly history through the real CLI, worker, socket and run store, on the sleep (mock) backend:
// its pass times are scripted, so the verdicts are about the judging logic and cannot flake.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ownerRecord } from '../../src/lock.ts';
import { ladder, ladderProcess, tmpDir } from '../helpers.ts';

// One round: these nights test the judging of each rung's own time (interleaved nights: the last test).
const NIGHT = [
  '--model',
  'none',
  '--warmup-steps',
  '1',
  '--steps',
  '2',
  '--passes',
  '6',
  '--rounds',
  '1',
  '--no-roofline',
];

/** Two sleep rungs; `victimSeconds` scripts the victim's pass time, `seed` the night's noise. */
function ladderFile(dir: string, night: number, victimSeconds = 0.02, machineDrift = 0): string {
  const file = path.join(dir, `ladder-${night}.yaml`);
  const noise = `pass_noise: 0.02, noise_seed: ${night}, machine_drift: ${machineDrift}`;
  writeFileSync(
    file,
    [
      'name: nightly-test',
      'rungs:',
      `  - {id: baseline, backend: sleep, options: {pass_s: 0.02, ${noise}}}`,
      `  - {id: victim, extends: baseline, options: {pass_s: ${victimSeconds}, ${noise}}}`,
    ].join('\n'),
  );
  return file;
}

const runsOf = (machineDir: string) =>
  readdirSync(machineDir)
    .filter((d) => !d.startsWith('.') && !d.endsWith('.html'))
    .sort();
const onlyMachine = (history: string) => path.join(history, readdirSync(history)[0]!);

describe('ladder nightly (sleep backend)', () => {
  it('keeps six nights, calls a night on a moving machine unstable, flags the one real regression', async () => {
    const dir = tmpDir();
    const history = path.join(dir, 'history');
    const lines: string[] = [];
    for (let night = 1; night <= 4; night++) {
      const r = await ladder(['nightly', '--ladder', ladderFile(dir, night), '--history', history, ...NIGHT]);
      expect(r.exitCode, r.all).toBe(0);
      lines.push(r.stdout.trim());
    }
    expect(lines[0]).toMatch(/^nightly [0-9a-f]{12}: 2 new; /);
    for (const l of lines.slice(1)) expect(l).toMatch(/^nightly [0-9a-f]{12}: 2 unchanged; /); // no false alarm
    // Night 5: the victim is slower, but the machine itself slowed down 30% during the run.
    const shaky = await ladder(['nightly', '--ladder', ladderFile(dir, 5, 0.032, 0.3), '--history', history, ...NIGHT]);
    expect(shaky.exitCode, shaky.all).toBe(0);
    expect(shaky.stdout).toMatch(/: 1 unchanged, 1 unstable; /);
    expect(shaky.stderr).toMatch(
      /machine probe \(end\): fp32 700, bf16 700 GFLOP\/s; moved during the run: fp32 -30\.0%/,
    );
    // Night 6: the same slowdown on a steady machine (the unstable night is left out of the history).
    const r = await ladder([
      'nightly',
      '--ladder',
      ladderFile(dir, 6, 0.032),
      '--history',
      history,
      ...NIGHT,
      '--markdown',
    ]);
    expect(r.exitCode, r.all).toBe(10);
    expect(r.stdout).toMatch(/\| victim \| \*\*regressed\*\* \| 1\.6\d* \|/);
    expect(r.stdout).toMatch(/\| baseline \| unchanged \|/);
    const machineDir = onlyMachine(history);
    const nights = runsOf(machineDir);
    expect(nights).toHaveLength(6);
    const last = JSON.parse(readFileSync(path.join(machineDir, nights[5]!, 'run.json'), 'utf8'));
    expect(last.nightly.verdicts.find((v: { id: string }) => v.id === 'victim')).toMatchObject({
      verdict: 'regressed',
    });
    expect(last.environments.torch.packages.torch).toMatch(/^2\.13\.0/);
    expect(last.tool.git_revision).toMatch(/^[0-9a-f]{40}$/);
    expect(last.rungs[1].samples_s).toHaveLength(6);
  }, 300_000);

  it('refuses to run beside another run holding the lock, and takes over a dead one', async () => {
    const dir = tmpDir();
    const history = path.join(dir, 'history');
    const first = await ladder([
      'nightly',
      '--ladder',
      ladderFile(dir, 1),
      '--history',
      history,
      ...NIGHT,
      '--only',
      'baseline',
    ]);
    expect(first.exitCode, first.all).toBe(0);
    const lock = path.join(onlyMachine(history), '.lock');
    writeFileSync(lock, ownerRecord(process.pid)); // alive: this test process
    const held = await ladder(['nightly', '--ladder', ladderFile(dir, 2), '--history', history, ...NIGHT]);
    expect(held.exitCode).toBe(3);
    expect(held.stderr).toMatch(/another nightly run \(pid \d+\) holds/);
    writeFileSync(lock, ownerRecord(2 ** 22 + 1)); // a dead owner: stale
    const stale = await ladder([
      'nightly',
      '--ladder',
      ladderFile(dir, 2),
      '--history',
      history,
      ...NIGHT,
      '--only',
      'baseline',
    ]);
    expect(stale.exitCode, stale.all).toBe(0);
  }, 300_000);

  it('resumes an interrupted night from its first unfinished rung', async () => {
    const dir = tmpDir();
    const history = path.join(dir, 'history');
    const file = ladderFile(dir, 1);
    const child = ladderProcess(['nightly', '--ladder', file, '--history', history, ...NIGHT, '--passes', '50']);
    child.stderr?.on('data', (d: Buffer) => {
      if (/rung victim \(2\/2/.test(d.toString())) child.kill('SIGKILL'); // crash in the second rung
    });
    await child;
    const machineDir = onlyMachine(history);
    expect(runsOf(machineDir)).toHaveLength(1);
    const r = await ladder(['nightly', '--ladder', file, '--history', history, ...NIGHT, '--passes', '50', '--resume']);
    expect(r.exitCode, r.all).toBe(0); // the dead run's lock was recognised as stale
    expect(r.stderr).toMatch(/resuming /);
    expect(r.stderr).toMatch(/rung baseline \(1\/2\): .*\n\s+kept from the interrupted run/);
    expect(runsOf(machineDir)).toHaveLength(1); // the same night, continued
    const resumed = JSON.parse(readFileSync(path.join(machineDir, runsOf(machineDir)[0]!, 'run.json'), 'utf8'));
    expect(resumed.finished).toBeDefined();
    expect(resumed.rungs.map((x: { status: string }) => x.status)).toEqual(['ok', 'ok']);
    expect(resumed.rungs[0].samples_s).toHaveLength(50); // kept as measured before the crash
  }, 300_000);
});

describe('ladder nightly in interleaved rounds (sleep backend)', () => {
  it('judges a rung by its ratio to the reference, which the machine drift cannot move', async () => {
    const dir = tmpDir();
    const history = path.join(dir, 'history');
    // No machine probe: the drift is scripted, and the judging by ratio must not need a probe to see it.
    const ROUNDS = [
      ...['--model', 'none', '--warmup-steps', '1', '--steps', '2', '--passes', '2', '--rounds', '3'],
      '--no-machine-probe',
    ];
    /** A night on a scripted machine: `slowdown` over the night (shared by both rungs through one clock). */
    const file = (night: number, victimSeconds: number, slowdown: number) => {
      const f = path.join(dir, `night-${night}.yaml`);
      const drift = `drift: [[0, 1], [0.3, ${slowdown}]], drift_clock: ${path.join(dir, `clock-${night}`)}`;
      const noise = `process_noise: 0.01, noise_seed: ${night}`;
      writeFileSync(
        f,
        [
          'name: nightly-test',
          'rungs:',
          `  - {id: baseline, backend: sleep, options: {pass_s: 0.02, ${noise}, ${drift}}}`,
          `  - {id: victim, extends: baseline, options: {pass_s: ${victimSeconds}}}`,
        ].join('\n'),
      );
      return f;
    };
    for (const night of [1, 2, 3]) {
      const r = await ladder([
        'nightly',
        '--ladder',
        file(night, 0.02, 1),
        '--history',
        history,
        ...ROUNDS,
        '--no-roofline',
      ]);
      expect(r.exitCode, r.all).toBe(0);
    }
    // Night 4: the whole machine 1.5x slower by the end of the night, the victim's code unchanged.
    const drifting = await ladder(['nightly', '--ladder', file(4, 0.02, 1.5), '--history', history, ...ROUNDS]);
    // The latest night's verdicts, read back from its run.json (after the command `_night` that made it).
    const verdicts = (_night: typeof drifting) => {
      const dirs = runsOf(onlyMachine(history));
      const run = JSON.parse(readFileSync(path.join(onlyMachine(history), dirs.at(-1)!, 'run.json'), 'utf8'));
      return Object.fromEntries(run.nightly.verdicts.map((v: { id: string }) => [v.id, v])) as Record<string, any>;
    };
    const v4 = verdicts(drifting);
    expect(v4.victim, drifting.all).toMatchObject({ verdict: 'unchanged', by: 'ratio' });
    expect(v4.baseline).toMatchObject({ by: 'time' });
    expect(v4.baseline.verdict).not.toBe('unchanged'); // the reference's own time did move: said, not hidden
    // Night 5: a quiet machine, the victim's code 1.4x slower: regressed, by its ratio.
    const slower = await ladder(['nightly', '--ladder', file(5, 0.028, 1), '--history', history, ...ROUNDS]);
    expect(slower.exitCode, slower.all).toBe(10);
    const v5 = verdicts(slower);
    expect(v5.victim).toMatchObject({ verdict: 'regressed', by: 'ratio' });
    expect(v5.victim.ratio).toBeCloseTo(1.4, 1);
    expect(v5.victim.detail).toMatch(/^by its ratio to baseline/);
    expect(v5.baseline).toMatchObject({ verdict: 'unchanged', by: 'time' });
  }, 600_000);
});
