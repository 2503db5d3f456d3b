// The real thing: the CLI starts a real Python worker over a real ZeroMQ socket, on synthetic:tiny
// where real compute is what is proven, on the sleep (mock) backend where the logic is.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, ladder, MOCK, TINY, tmpDir, waitFor } from '../helpers.ts';

describe('ladder run (real worker, synthetic:tiny)', () => {
  it('prints only the run document on stdout with --json', async () => {
    const r = await ladder(['run', 'baseline', ...MOCK, '--passes', '1', '--json', '--out', tmpDir()]);
    expect(r.exitCode, r.all).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.rungs[0]).toMatchObject({ id: 'baseline', status: 'ok' });
    expect(doc.rungs[0].effective.backend).toBe('sleep'); // --set backend=sleep reached the worker
    expect(r.stderr).toMatch(/pass 1\/1/);
  });

  it('measures the worker against a plain diffusers loop, interleaved, and the controller itself', async () => {
    const out = tmpDir();
    const r = await ladder([
      'overhead',
      ...['--model', 'synthetic:tiny', '--height', '64', '--width', '64', '--steps', '2', '--passes', '2'],
      ...['--rounds', '2', '--threads', '1', '--out', out],
    ]);
    expect(r.exitCode, r.all).toBe(0);
    // Two rounds give a 50% interval, and the figure says so.
    expect(r.stdout).toMatch(
      /what the worker adds to a pass: [+-]\d+\.\d\d% \[[+-]\d+\.\d\d% – [+-]\d+\.\d\d% at 50%\] \(target < 1%: (within target|OVER TARGET|not resolved)/,
    );
    expect(r.stdout).toMatch(
      /controller CPU while the worker measured: \d+\.\d{3}% of pass time \(median of 2 workers/,
    );
    expect(r.stdout).toMatch(/job time gap, controller vs worker: bench -?\d+\.\d{2} ms, load -?\d+\.\d{2} ms/);
    const doc = JSON.parse(readFileSync(path.join(out, 'overhead.json'), 'utf8'));
    // A fresh process for each side in each round, the order alternating, one thread on both sides.
    expect(doc.rounds.map((x: { order: string[] }) => x.order[0])).toEqual(['worker', 'plain']);
    const pids = doc.rounds.flatMap((x: { worker: { pid: number }; plain: { pid: number } }) => [
      x.worker.pid,
      x.plain.pid,
    ]);
    expect(new Set(pids).size).toBe(4);
    expect(doc.rounds.every((x: { plain: { torch_threads: number } }) => x.plain.torch_threads === 1)).toBe(true);
    // The same work: the plain loop's image is the worker's (PSNR null: identical, infinite in JSON).
    expect(doc.same_image.max_abs_diff).toBeLessThan(1e-3);
    expect(doc.same_image.psnr_db === null || doc.same_image.psnr_db >= 60).toBe(true);
    expect(doc.worker_cost.per_round).toHaveLength(2);
    expect(doc.worker_cost.per_round.every((x: number) => x > 0 && Number.isFinite(x))).toBe(true);
  });

  it('honours --threads inside the worker', async () => {
    const out = tmpDir();
    const r = await ladder([
      'run',
      'baseline',
      ...TINY,
      '--passes',
      '1',
      '--threads',
      '1',
      '--no-roofline',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const eff = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).rungs[0].effective;
    expect(eff.threads).toMatchObject({ OMP_NUM_THREADS: '1', torch_intra_op: 1 });
  });

  it.each([
    [['--height', '63'], /height must be a positive multiple of 8 \(got 63\)/],
    [['--steps', '0'], /steps must be an integer from 1 to 1000 \(got 0\)/],
    [['--model', 'synthetic:nope'], /unknown model 'synthetic:nope'/],
    [['--model', 'nobody/not-cached-model'], /not in the local Hugging Face cache/],
    [['--bogus-flag'], /Unknown argument/],
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
    const child = ladder(['run', 'baseline', ...MOCK, '--passes', '200', '--out', out]);
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
    const child = ladder(['run', 'baseline', ...MOCK, '--passes', '200', '--heartbeat-timeout', '3', '--out', out]);
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
      const child = ladder(['run', 'baseline', ...MOCK, '--passes', '500', '--out', tmpDir()]);
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
