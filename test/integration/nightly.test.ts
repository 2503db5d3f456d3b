// Nightly history on synthetic:tiny with real workers: five nights, one rung really slowed down
// (fewer threads) on the fifth, an interrupted night resumed, and the lock.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ladder, tmpDir } from '../helpers.ts';

// 256x256 so the UNet, not Python overhead, dominates: one thread is clearly slower than two.
// Tiny nights differ by 5-15% between worker processes: a 15% factor (30% with so few nights) leaves
// the injected 1.6x slowdown far above the noise, so the test is about the logic, not luck.
const NIGHT = ['--model', 'synthetic:tiny', '--height', '256', '--width', '256', '--steps', '4', '--warmup-steps', '1', '--passes', '6', '--no-roofline', '--factor', '0.15'];

function ladderFile(dir: string, victimThreads?: number): string {
  const file = path.join(dir, `ladder-${victimThreads ?? 'normal'}.yaml`);
  writeFileSync(file, [
    'name: nightly-test',
    'rungs:',
    '  - {id: baseline, backend: torch, launcher: {threads: 2}}',
    `  - {id: victim, extends: baseline${victimThreads ? `, launcher: {threads: ${victimThreads}}` : ''}}`,
  ].join('\n'));
  return file;
}

const runsOf = (machineDir: string) => readdirSync(machineDir).filter((d) => !d.startsWith('.') && !d.endsWith('.html')).sort();

describe('ladder nightly', () => {
  const dir = tmpDir();
  const history = path.join(dir, 'history');
  const normal = ladderFile(dir);
  const slowed = ladderFile(dir, 1);

  it('keeps five nights, flags the one real regression and nothing else', async () => {
    const lines: string[] = [];
    for (let night = 1; night <= 4; night++) {
      const r = await ladder(['nightly', '--ladder', normal, '--history', history, ...NIGHT]);
      expect(r.exitCode, r.all).toBe(0);
      lines.push(r.stdout.trim());
    }
    expect(lines[0]).toMatch(/^nightly [0-9a-f]{12}: 2 new; /);
    for (const l of lines.slice(1)) expect(l).toMatch(/^nightly [0-9a-f]{12}: 2 unchanged; /);  // no false alarm
    const r = await ladder(['nightly', '--ladder', slowed, '--history', history, ...NIGHT, '--markdown']);
    expect(r.exitCode, r.all).toBe(10);
    expect(r.stdout).toMatch(/\| victim \| \*\*regressed\*\* \| 1\.\d+ \|/);
    expect(r.stdout).toMatch(/\| baseline \| unchanged \|/);
    const machines = readdirSync(history);
    expect(machines).toHaveLength(1);
    const nights = runsOf(path.join(history, machines[0]!));
    expect(nights).toHaveLength(5);
    const last = JSON.parse(readFileSync(path.join(history, machines[0]!, nights[4]!, 'run.json'), 'utf8'));
    expect(last.nightly.verdicts.find((v: { id: string }) => v.id === 'victim')).toMatchObject({ verdict: 'regressed' });
    expect(last.environments.torch.packages.torch).toMatch(/^2\.13\.0/);
    expect(last.tool.git_revision ?? null).not.toBe(undefined);
  }, 900_000);

  it('refuses to run beside another run holding the lock', async () => {
    const machineDir = path.join(history, readdirSync(history)[0]!);
    writeFileSync(path.join(machineDir, '.lock'), String(process.pid));  // alive: this test process
    const r = await ladder(['nightly', '--ladder', normal, '--history', history, ...NIGHT]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/another nightly run \(pid \d+\) holds/);
    writeFileSync(path.join(machineDir, '.lock'), '999999999');  // a dead owner: stale, taken over below
  });

  it('resumes an interrupted night from its first unfinished rung', async () => {
    const machineDir = path.join(history, readdirSync(history)[0]!);
    const before = runsOf(machineDir).length;
    const child = ladder(['nightly', '--ladder', normal, '--history', history, ...NIGHT, '--passes', '60']);
    child.stderr?.on('data', (d: Buffer) => {
      if (/rung victim \(2\/2/.test(d.toString())) child.kill('SIGKILL');  // crash in the second rung
    });
    await child;
    const r = await ladder(['nightly', '--ladder', normal, '--history', history, ...NIGHT, '--resume']);
    expect(r.exitCode, r.all).not.toBe(3);  // the dead run's lock was recognised as stale
    expect(r.stderr).toMatch(/resuming /);
    expect(r.stderr).toMatch(/rung baseline \(1\/2\): .*\n\s+kept from the interrupted run/);
    expect(runsOf(machineDir)).toHaveLength(before + 1);  // the same night, continued
    const resumed = JSON.parse(readFileSync(path.join(machineDir, runsOf(machineDir).at(-1)!, 'run.json'), 'utf8'));
    expect(resumed.finished).toBeDefined();
    expect(resumed.rungs.map((x: { status: string }) => x.status)).toEqual(['ok', 'ok']);
    expect(resumed.rungs[0].samples_s).toHaveLength(60);  // kept as measured before the crash
  }, 900_000);
});
