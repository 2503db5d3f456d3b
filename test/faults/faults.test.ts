// Faults injected into real runs (the real CLI, worker and socket, on the sleep backend where it
// can): each must end in a clear failure of what it hit, the other rungs still measured, nothing
// measured lost, and no worker left behind. Each records itself in the ledger (./ledger.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, vi } from 'vitest';
import { launchPlan } from '../../src/launcher/launch.ts';
import { alive } from '../../src/lock.ts';
import { WorkerSession } from '../../src/worker/session.ts';
import { fixtureRun } from '../fixtures/run.ts';
import { BIN, ladderProcess as ladder, tmpDir, waitFor } from '../helpers.ts';
import { fault } from './ledger.ts';

const RUN = [
  '--model',
  'none',
  '--warmup-steps',
  '1',
  '--steps',
  '2',
  '--passes',
  '3',
  '--rounds',
  '1',
  '--no-roofline',
];

/** Worker processes still alive whose rung id contains `tag`. */
async function orphans(tag: string): Promise<number> {
  const r = await execa('pgrep', ['-f', `ladder_worker .*--rung [^ ]*${tag}`], { reject: false });
  return r.stdout.trim() ? r.stdout.trim().split('\n').length : 0;
}

function ladderFile(dir: string, rungs: string[]): string {
  const file = path.join(dir, 'faults.yaml');
  writeFileSync(file, ['name: faults', 'rungs:', ...rungs.map((r) => `  - ${r}`)].join('\n'));
  return file;
}

const readRun = (out: string) => JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));

describe('fault suite', () => {
  it('a worker whose main thread deadlocks is killed at its job deadline; the next rung runs', async () => {
    const dir = tmpDir();
    const file = ladderFile(dir, [
      '{id: before-dl, backend: sleep}',
      '{id: stuck-dl, backend: sleep, options: {fault: deadlock, fault_at_pass: 2}}',
      '{id: after-dl, backend: sleep}',
    ]);
    const out = path.join(dir, 'out');
    const r = await ladder(['reproduce', '--ladder', file, '--out', out, '--job-timeout', '4', ...RUN]);
    const run = readRun(out);
    const stuck = run.rungs[1];
    const survived = r.exitCode === 1 && /job bench exceeded 4 s/.test(stuck.error) && run.rungs[2].status === 'ok';
    const lost = run.rungs[0].samples_s.length === 3 ? 0 : 1;
    fault('deadlocked main thread', survived, { lost, orphans: await orphans('-dl') });
    expect(stuck).toMatchObject({ status: 'failed' });
    expect(stuck.error).toMatch(/^worker for rung stuck-dl: job bench exceeded 4 s \(--job-timeout\)$/);
    expect(run.rungs.map((x: { status: string }) => x.status)).toEqual(['ok', 'failed', 'ok']);
    expect(lost).toBe(0);
    expect(await orphans('-dl')).toBe(0);
  }, 120_000);

  it('a worker out of memory mid-pass says so with the memory it reached; the next rung runs', async () => {
    const dir = tmpDir();
    const file = ladderFile(dir, [
      '{id: hog-oom, backend: sleep, launcher: {memory_limit_bytes: 1073741824}, options: {fault: oom, fault_at_pass: 2}}',
      '{id: after-oom, backend: sleep}',
    ]);
    const out = path.join(dir, 'out');
    const r = await ladder(['reproduce', '--ladder', file, '--out', out, ...RUN]);
    const run = readRun(out);
    const hog = run.rungs[0];
    fault('worker out of memory', r.exitCode === 1 && run.rungs[1].status === 'ok', { orphans: await orphans('-oom') });
    expect(hog.status).toBe('failed');
    expect(hog.error).toMatch(/^rung hog-oom: out of memory \(peak RSS \d+\.\d\d GiB\): /);
    expect(run.rungs[1].status).toBe('ok');
    expect(await orphans('-oom')).toBe(0);
  }, 120_000);

  it('the controller SIGKILLed under a subreaper leaves no worker behind', async () => {
    const dir = tmpDir();
    const file = ladderFile(dir, ['{id: long-sr, backend: sleep, options: {pass_s: 0.05}}']);
    // A subreaper adopts the orphaned worker instead of init: the worker must still notice and go.
    const wrapper = [
      'import ctypes, subprocess, sys, time',
      'ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER',
      'p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)',
      'for line in p.stdout:',
      '    if "pass 1/" in line: break',
      'p.kill(); p.wait()',
      'time.sleep(5)',
      'print("ORPHANS", subprocess.run(["pgrep", "-f", "--rung long-sr"], capture_output=True, text=True).stdout.split())',
    ].join('\n');
    const r = await execa(
      'python3',
      [
        '-c',
        wrapper,
        'node',
        BIN,
        'reproduce',
        '--ladder',
        file,
        '--out',
        path.join(dir, 'out'),
        ...RUN,
        '--passes',
        '2000',
      ],
      { reject: false },
    );
    const left = (/ORPHANS \[(.*)\]/.exec(r.stdout)?.[1] ?? 'unknown').split(',').filter((x) => x.trim());
    fault('controller SIGKILLed under a subreaper', r.exitCode === 0 && left.length === 0, { orphans: left.length });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(left).toEqual([]);
  }, 120_000);

  it('a full disk keeps the previous run.json intact and leaves no temporary file', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a small tmpfs and needs root (CI runs as root)');
    const dir = tmpDir();
    const mnt = path.join(dir, 'small');
    mkdirSync(mnt);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
    try {
      // 64x64 images are 48 KiB each: the disk fills after a few rungs.
      const file = ladderFile(
        dir,
        Array.from({ length: 8 }, (_, i) => `{id: r${i}-df, backend: sleep}`),
      );
      const out = path.join(mnt, 'out');
      const r = await ladder(['reproduce', '--ladder', file, '--out', out, ...RUN, '--height', '64', '--width', '64']);
      const run = readRun(out); // still valid JSON: the last save that fit
      const measured = run.rungs.filter((x: { status: string }) => x.status === 'ok').length;
      const tmp = readdirSync(out).filter((f) => f.includes('.tmp'));
      fault('disk full during saves', r.exitCode === 1 && tmp.length === 0 && measured > 0, {
        orphans: await orphans('-df'),
      });
      expect(r.exitCode, r.all).toBe(1);
      expect(r.all).toMatch(/No space left on device|ENOSPC/);
      expect(r.all).not.toMatch(/internal error/);
      expect(measured).toBeGreaterThan(0);
      expect(tmp).toEqual([]);
    } finally {
      await execa('umount', ['-l', mnt], { reject: false });
    }
  }, 120_000);

  it('a step of the wall clock during a bench does not make a healthy worker look hung', async () => {
    const py = (await execa('node', [BIN, 'envs', 'python', 'torch'])).stdout.trim();
    const session = await WorkerSession.start({
      rung: 'clock-step',
      plan: (endpoint) => launchPlan(py, { allocator: 'default' }, endpoint, 'clock-step', process.env, 'sleep'),
      heartbeatTimeoutMs: 2500,
    });
    try {
      await session.job('load', {
        model: 'none',
        cache_dir: tmpDir(),
        backend: 'sleep',
        options: { pass_s: 0.1 },
        scenario: {},
      });
      const real = Date.now.bind(Date);
      let stepped = false;
      const bench = session.job(
        'bench',
        { scenario: { steps: 2, warmup_steps: 0, passes: 50, height: 8, width: 8 } },
        () => {
          if (stepped) return;
          stepped = true;
          vi.spyOn(Date, 'now').mockImplementation(() => real() + 3_600_000); // the clock jumps an hour ahead
        },
      );
      const res = await bench;
      fault('wall clock step during a bench', (res.samples_s as number[]).length === 50);
      expect(stepped).toBe(true);
      expect(res.samples_s).toHaveLength(50);
    } finally {
      vi.restoreAllMocks();
      session.kill();
    }
  }, 60_000);

  it('two nightly runs started together: one runs, the other is refused by the lock', async () => {
    const dir = tmpDir();
    const file = ladderFile(dir, ['{id: night-race, backend: sleep, options: {pass_s: 0.2}}']);
    const args = ['nightly', '--ladder', file, '--history', path.join(dir, 'history'), ...RUN];
    const [a, b] = await Promise.all([ladder(args), ladder(args)]);
    const codes = [a.exitCode, b.exitCode].sort();
    fault('two nightly runs racing', codes[0] === 0 && codes[1] === 3, { orphans: await orphans('night-race') });
    expect(codes).toEqual([0, 3]);
  }, 120_000);

  it('SIGINT during environment setup leaves no lock, and the next run builds the environment', async () => {
    const dir = tmpDir();
    const envs = path.join(dir, 'envs');
    mkdirSync(path.join(envs, 'tiny'), { recursive: true });
    writeFileSync(path.join(envs, 'tiny', 'requirements.txt'), '# nothing: a bare venv\n');
    const env = { LADDER_ENVS_DIR: envs, LADDER_CACHE_DIR: path.join(dir, 'cache') };
    const child = ladder(['envs', 'provision', 'tiny'], env);
    await waitFor(
      () =>
        existsSync(path.join(dir, 'cache', 'envs')) &&
        readdirSync(path.join(dir, 'cache', 'envs')).some((f) => f.endsWith('.lock')),
      30_000,
    );
    child.kill('SIGINT');
    const r = await child;
    const left = readdirSync(path.join(dir, 'cache', 'envs')).filter((f) => f.endsWith('.lock'));
    const again = await ladder(['envs', 'provision', 'tiny'], env);
    const list = await ladder(['envs', 'list'], env);
    fault(
      'SIGINT during environment setup',
      r.exitCode === 130 && left.length === 0 && /tiny\s+ready/.test(list.stdout),
    );
    expect(r.exitCode).toBe(130);
    expect(left).toEqual([]);
    expect(again.exitCode, again.all).toBe(0);
    expect(list.stdout).toMatch(/tiny\s+ready/);
    expect(alive(child.pid!)).toBe(false);
  }, 120_000);

  it('two runs given the same --out at once: one writes there, the other exits 2; nothing lost', async () => {
    const dir = tmpDir();
    const file = ladderFile(dir, ['{id: out-race, backend: sleep, options: {pass_s: 0.2}}']);
    const out = path.join(dir, 'out');
    const args = ['reproduce', '--ladder', file, '--out', out, ...RUN];
    const [a, b] = await Promise.all([ladder(args), ladder(args)]);
    const codes = [a.exitCode, b.exitCode].sort();
    const loser = a.exitCode === 2 ? a : b;
    const run = readRun(out);
    const lost = run.rungs[0]?.samples_s?.length === 3 ? 0 : 1;
    fault('two runs into one --out', codes[0] === 0 && codes[1] === 2, { lost, orphans: await orphans('out-race') });
    expect(codes, `${a.all}\n${b.all}`).toEqual([0, 2]);
    expect(loser.stderr.trim().split('\n')).toHaveLength(1);
    expect(loser.stderr).toMatch(/another ladder run \(pid \d+\) is writing there|already holds a run/);
    expect(lost).toBe(0);
    expect(existsSync(path.join(out, '.ladder-run.lock'))).toBe(false); // released when it ended
  }, 120_000);

  it('a FIFO in place of a run.json, a ladder or a config file is refused at once, not read for ever', async () => {
    const dir = tmpDir();
    for (const f of ['run.json', 'ladder.yaml', 'ladder.config.yaml']) await execa('mkfifo', [path.join(dir, f)]);
    // A process that blocked would be killed by the timeout and fail the test; a refusal is quick.
    const opts = { reject: false, all: true, timeout: 60_000 } as const;
    const results = [
      await execa('node', [BIN, 'report', dir], opts),
      await execa('node', [BIN, 'rungs', '--ladder', path.join(dir, 'ladder.yaml')], opts),
      await execa('node', [BIN, 'rungs'], { ...opts, env: { LADDER_CONFIG: path.join(dir, 'ladder.config.yaml') } }),
    ];
    const refused = results.filter((r) => r.exitCode === 2 && /not a regular file/.test(r.all ?? '')).length;
    fault('FIFO inputs', refused === results.length);
    for (const r of results) {
      expect(r.timedOut).toBe(false);
      expect(r.exitCode, r.all).toBe(2);
      expect(r.all).toMatch(/not a regular file/);
    }
  }, 240_000);

  it('SIGTERM during environment setup also stops what a post-install script started', async () => {
    const dir = tmpDir();
    const envs = path.join(dir, 'envs');
    mkdirSync(path.join(envs, 'slow'), { recursive: true });
    writeFileSync(path.join(envs, 'slow', 'requirements.txt'), '# nothing: a bare venv\n');
    const pidFile = path.join(dir, 'grandchild.pid');
    // A grandchild in the background, then a wait: what a build tool's helper looks like.
    writeFileSync(path.join(envs, 'slow', 'post-install.sh'), `sleep 300 & echo $! > ${pidFile}\nwait\n`);
    const env = { LADDER_ENVS_DIR: envs, LADDER_CACHE_DIR: path.join(dir, 'cache') };
    const child = ladder(['envs', 'provision', 'slow'], env);
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 60_000);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(grandchild)).toBe(true);
    child.kill('SIGTERM');
    const r = await child;
    await waitFor(() => !alive(grandchild), 10_000);
    const left = alive(grandchild) ? 1 : 0;
    fault('SIGTERM during environment setup (a post-install grandchild)', r.exitCode === 143 && !left, {
      orphans: left,
    });
    expect(r.exitCode).toBe(143);
    expect(left).toBe(0);
    // Nothing was being measured: no promise of results in a run.json.
    expect(r.stderr).toMatch(/ladder: interrupted \(SIGTERM\)$/m);
    expect(r.stderr).not.toMatch(/run\.json/);
  }, 180_000);

  it('a full disk during report and trend: one line, exit 2, earlier files intact, no temporary file', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a small tmpfs and needs root (CI runs as root)');
    const dir = tmpDir();
    const mnt = path.join(dir, 'small');
    mkdirSync(mnt);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt]);
    try {
      const runDir = path.join(mnt, 'run');
      mkdirSync(runDir);
      const json = `${JSON.stringify(fixtureRun(), null, 2)}\n`;
      writeFileSync(path.join(runDir, 'run.json'), json);
      // A nightly history on a healthy disk, its trend page sent to the full one.
      const history = path.join(dir, 'history', 'm1');
      for (const night of ['2026-12-01T00-00-00-000Z', '2026-12-02T00-00-00-000Z']) {
        mkdirSync(path.join(history, night), { recursive: true });
        writeFileSync(path.join(history, night, 'run.json'), json);
      }
      await execa('dd', ['if=/dev/zero', `of=${path.join(mnt, 'filler')}`, 'bs=4k'], { reject: false });
      const report = await ladder(['report', runDir]);
      const trend = await ladder(['trend', '--history', path.join(dir, 'history'), '--out', path.join(mnt, 't.html')]);
      const tmp =
        readdirSync(runDir).filter((f) => f.includes('.tmp')).length +
        readdirSync(mnt).filter((f) => f.includes('.tmp')).length;
      const intact = readFileSync(path.join(runDir, 'run.json'), 'utf8') === json;
      const ok = (r: typeof report) => r.exitCode === 2 && r.stderr.trim().split('\n').length === 1;
      fault('disk full during report and trend', ok(report) && ok(trend) && intact && tmp === 0, {
        lost: intact ? 0 : 1,
      });
      for (const r of [report, trend]) {
        expect(r.exitCode, r.all).toBe(2);
        expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
        expect(r.stderr).toMatch(/ENOSPC|No space left on device/);
        expect(r.all).not.toMatch(/internal error/);
      }
      expect(intact).toBe(true);
      expect(tmp).toBe(0);
    } finally {
      await execa('umount', ['-l', mnt], { reject: false });
    }
  }, 120_000);
});
