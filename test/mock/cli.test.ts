// Commands that start no worker: listing, dry runs, doctor, bad ladder files.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ladder, ladderProcess, tmpDir } from '../helpers.ts';

describe('ladder rungs / doctor / help', () => {
  it('lists every rung with what it changes and the article figures', async () => {
    const r = await ladder(['rungs']);
    expect(r.exitCode, r.all).toBe(0);
    for (const id of ['baseline', 'openvino-dynamic', 'openvino-static', 'jemalloc', 'tcmalloc', 'ipex-bf16', 'dpm'])
      expect(r.stdout).toMatch(new RegExp(`^${id} `, 'm'));
    expect(r.stdout).toMatch(
      /backend=ipex env=ipex allocator=jemalloc .*options: ipex=true dtype=bf16 channels_last=true; extends jemalloc; article 6\.3 s \(seed\) \/ 5\.4 s \(published\)/,
    );
  });

  it('prints the exact environment and command of each worker on --dry-run', async () => {
    const r = await ladder(['rungs', '--dry-run', '--threads', '2']);
    expect(r.exitCode, r.all).toBe(0);
    const block = (id: string) => r.stdout.split('\n\n').find((b) => b.startsWith(`# ${id}:`))!;
    const jem = block('jemalloc');
    expect(jem).toMatch(/LD_PRELOAD=\/\S*libjemalloc\.so\.2/);
    expect(jem).toContain(
      'MALLOC_CONF=oversize_threshold:1,background_thread:true,metadata_thp:auto,dirty_decay_ms:30000,muzzy_decay_ms:30000',
    );
    expect(jem).toMatch(/OMP_NUM_THREADS=2 MKL_NUM_THREADS=2/);
    expect(jem).toMatch(/envs\/torch-[0-9a-f]{12}\/bin\/python -m ladder_worker --endpoint \S+ --rung jemalloc/);
    const base = block('baseline');
    expect(base).not.toMatch(/LD_PRELOAD/);
    expect(block('ipex-bf16')).toMatch(/^# ipex-bf16: backend ipex, environment 'ipex'/);
  });

  it('reproduce --dry-run honours --only and --skip; unknown rungs are refused', async () => {
    const r = await ladder(['reproduce', '--dry-run', '--only', 'baseline,dpm', '--skip', 'dpm']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout.match(/^# \S+: backend/gm)).toEqual(['# baseline: backend']);
    const bad = await ladder(['reproduce', '--only', 'warp-drive']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^ladder: error: unknown rung 'warp-drive' \(article\.yaml has: baseline, /);
  });

  it('refuses a broken ladder file naming file, rung and field', async () => {
    const file = path.join(tmpDir(), 'mine.yaml');
    writeFileSync(file, 'rungs:\n  - {id: fast, backend: torch, launcher: {threads: -1}}\n');
    const r = await ladder(['reproduce', '--ladder', file, '--profile', 'smoke']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toMatch(
      /^ladder: error: \S*mine\.yaml: rung fast: launcher\.threads: must be a positive integer$/,
    );
  });

  it('doctor reports the allocator libraries and environments', async () => {
    const r = await ladder(['doctor']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^ok\s+jemalloc\s+\/\S+libjemalloc\.so\.2$/m);
    expect(r.stdout).toMatch(/^ok\s+env torch\s+ready/m);
    expect(r.stdout).toMatch(/^\S+\s+disk\s+\d+ GiB free/m);
    // What building the sdcpp environment needs, installed by --fix.
    expect(r.stdout).toMatch(/^(ok\s+cmake\s+\/\S+cmake|warn\s+cmake\s+not found .*apt-get install cmake)$/m);
    expect(r.stdout).toMatch(/^(ok|warn)\s+g\+\+\s/m);
  });

  it('explains every option in --help', async () => {
    const r = await ladder(['reproduce', '--help']);
    for (const opt of [
      '--profile',
      '--model',
      '--steps',
      '--passes',
      '--height',
      '--only',
      '--skip',
      '--dry-run',
      '--ladder',
      '--threads',
    ])
      expect(r.stdout).toContain(opt);
  });
});

// The tests run most commands through `main` in their own process (test/helpers.ts): that must be
// what a user gets from bin/ladder.js, output and exit code alike.
describe('the CLI in a process of its own and in the test process', () => {
  const dir = tmpDir();
  const broken = path.join(dir, 'broken.yaml');
  writeFileSync(broken, 'rungs:\n  - {id: a, backend: torch, launcher: {env: {PATH: /evil}}}\n');
  // One command line per path out of main: a yargs built-in, a yargs failure (with a suggestion), a
  // UserError from ladder's own checks, and a command's output.
  it.each([
    [['--version']],
    [['reproduse']],
    [['reproduce', '--ladder', broken]],
    [['run', 'baseline', '--profile', 'smoke', '--set', 'backend=sleep', '--model', 'none', '--dry-run']],
  ])('gives the same output and exit code: ladder %j', async (args) => {
    const inside = await ladder(args);
    const own = await ladderProcess(args);
    expect(inside.exitCode).toBe(own.exitCode);
    expect(inside.stdout).toBe(own.stdout);
    expect(inside.stderr).toBe(own.stderr);
  });
});
