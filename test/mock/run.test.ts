// The real CLI starting a real Python worker over a real ZeroMQ socket, on the sleep (mock) backend:
// the logic around a rung (output, faults, signals), none of the compute.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive } from '../../src/lock.ts';
import { ladder, ladderProcess, MOCK, TINY, tmpDir, waitFor } from '../helpers.ts';

describe('ladder run (real worker, sleep backend; bad input refused before any worker)', () => {
  it('prints only the run document on stdout with --json', async () => {
    const r = await ladder(['run', 'baseline', ...MOCK, '--passes', '1', '--json', '--out', tmpDir()]);
    expect(r.exitCode, r.all).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.rungs[0]).toMatchObject({ id: 'baseline', status: 'ok' });
    expect(doc.rungs[0].effective.backend).toBe('sleep'); // --set backend=sleep reached the worker
    expect(r.stderr).toMatch(/pass 1\/1/);
  });

  it.each([
    [['--height', '63'], /height must be a positive multiple of 8 \(got 63\)/],
    [['--steps', '0'], /steps must be an integer from 1 to 1000 \(got 0\)/],
    [['--model', 'synthetic:nope'], /unknown model 'synthetic:nope'/],
    [['--model', 'nobody/not-cached-model'], /not in the local Hugging Face cache/],
    [['--bogus-flag'], /unknown option --bogus-flag for run/],
  ])('refuses bad input %j with one line and exit 2', async (args, pattern) => {
    const r = await ladder(['run', 'baseline', ...TINY, '--passes', '1', '--out', tmpDir(), ...args]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.all).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('refuses an unknown rung and an unknown environment with exit 2', async () => {
    const a = await ladder(['run', 'nosuch', ...TINY]);
    expect(a.exitCode).toBe(2);
    expect(a.stderr).toMatch(/unknown rung 'nosuch'/);
    const b = await ladder(['envs', 'provision', 'nosuch']);
    expect(b.exitCode).toBe(2);
    expect(b.stderr).toMatch(/unknown environment 'nosuch'/);
  });

  it('reports a worker killed mid-job in one line, exits non-zero and keeps run.json', async () => {
    const out = tmpDir();
    const child = ladderProcess(['run', 'baseline', ...MOCK, '--passes', '200', '--out', out]);
    let pid = 0;
    child.stdout?.on('data', (d: Buffer) => {
      const m = d.toString().match(/worker pid (\d+)/);
      if (m) pid = Number(m[1]);
      if (pid && /pass 2\//.test(d.toString())) process.kill(pid, 'SIGKILL');
    });
    const r = await child;
    expect(pid).toBeGreaterThan(0);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/FAILED: worker for rung baseline died: SIGKILL/);
    const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
    expect(run.rungs[0]).toMatchObject({ status: 'failed', error: 'worker for rung baseline died: SIGKILL' });
  });

  it('declares a silent worker hung after the heartbeat timeout', async () => {
    const out = tmpDir();
    const child = ladderProcess([
      'run',
      'baseline',
      ...MOCK,
      '--passes',
      '200',
      '--heartbeat-timeout',
      '3',
      '--out',
      out,
    ]);
    let pid = 0;
    child.stdout?.on('data', (d: Buffer) => {
      const m = d.toString().match(/worker pid (\d+)/);
      if (m) pid = Number(m[1]);
      if (pid && /pass 1\//.test(d.toString())) process.kill(pid, 'SIGSTOP'); // alive but silent
    });
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/worker for rung baseline hung: no heartbeat for \d+\.\d s/);
    expect(await waitFor(() => !alive(pid), 5000)).toBe(true);
  });

  it.each([['SIGINT'], ['SIGKILL']] as const)(
    'leaves no Python process behind when the controller gets %s',
    async (signal) => {
      const child = ladderProcess(['run', 'baseline', ...MOCK, '--passes', '500', '--out', tmpDir()]);
      let pid = 0;
      await new Promise<void>((resolve) => {
        child.stdout?.on('data', (d: Buffer) => {
          const m = d.toString().match(/worker pid (\d+)/);
          if (m) pid = Number(m[1]);
          if (pid && /pass 1\//.test(d.toString())) resolve();
        });
      });
      expect(alive(pid)).toBe(true);
      child.kill(signal);
      const r = await child;
      if (signal === 'SIGINT') expect(r.exitCode).toBe(130);
      expect(await waitFor(() => !alive(pid), 10_000)).toBe(true);
    },
  );
});
