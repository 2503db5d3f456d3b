// Bad input, as a hostile or careless user gives it: one line of error, exit code 2, nothing run,
// nothing written outside the folders it should be in, nothing measured lost.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { machine, machineId } from '../../src/machine.ts';
import { repoRoot } from '../../src/paths.ts';
import { ladderJsonSchema } from '../../src/rungs/ladder.ts';
import { PROFILES } from '../../src/rungs/settings.ts';
import { ladder, MOCK, tmpDir } from '../helpers.ts';

function ladderWith(rung: string, top = 'name: bad'): string {
  const file = path.join(tmpDir(), 'bad.yaml');
  writeFileSync(file, `${top}\nrungs:\n  - ${rung}\n`);
  return file;
}

const oneLine = (r: { exitCode?: number; stderr: string; all?: string }, pattern: RegExp) => {
  expect(r.exitCode, r.all).toBe(2);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.all).not.toMatch(/internal error|at .*\.ts:\d+/);
};

describe('a ladder file is code: what it may not do', () => {
  it.each([
    [
      '{id: a, backend: torch, launcher: {env: {PYTHONPATH: /evil}}}',
      /launcher\.env\.PYTHONPATH: is set by ladder itself/,
    ],
    [
      '{id: a, backend: torch, launcher: {env: {HF_HUB_OFFLINE: "0"}}}',
      /launcher\.env\.HF_HUB_OFFLINE: is set by ladder itself/,
    ],
    [
      '{id: a, backend: torch, launcher: {env: {LD_LIBRARY_PATH: /x}}}',
      /launcher\.env\.LD_LIBRARY_PATH: is set by ladder itself/,
    ],
    ["{id: a, backend: torch, launcher: {env: {'X$(touch /tmp/p)': '1'}}}", /must be a variable name/],
    // Hardening II: variables that load code or name files are not tuning switches.
    ...['OPENSSL_CONF', 'GCONV_PATH', 'PATH', 'CXX', 'TORCHINDUCTOR_CACHE_DIR', 'OV_PLUGINS_XML'].map(
      (k): [string, RegExp] => [
        `{id: a, backend: torch, launcher: {env: {${k}: /tmp/x}}}`,
        new RegExp(`launcher\\.env\\.${k}: is not a tuning variable a ladder file may set`),
      ],
    ),
    [
      '{id: a, backend: torch, launcher: {allocator: jemalloc, library: /tmp/evil.so}}',
      /launcher\.library: must be the library of the allocator asked/,
    ],
    [
      '{id: a, backend: torch, launcher: {allocator: default, library: /usr/lib/libjemalloc.so.2}}',
      /launcher\.library/,
    ],
    // Hardening II: LD_PRELOAD splits at ':' and white space; a second path would be preloaded too.
    [
      "{id: a, backend: torch, launcher: {allocator: jemalloc, library: '/tmp/x.so:/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'}}",
      /launcher\.library: must be one absolute path, without ':' or white space/,
    ],
    [
      "{id: a, backend: torch, launcher: {allocator: jemalloc, library: '/tmp/x.so /usr/lib/x86_64-linux-gnu/libjemalloc.so.2'}}",
      /launcher\.library: must be one absolute path, without ':' or white space/,
    ],
    ['{id: a, backend: torch, launcher: jemalloc}', /rung a: launcher: Invalid input: expected object/],
    ['{id: a, backend: torch, launcher: {malloc_conf: 5}}', /launcher\.malloc_conf: Invalid input: expected string/],
    ['{id: a, backend: torch, launcher: {threads: 1e12}}', /launcher\.threads: must be at most 4096/],
    // Hardening II: a huge core range was expanded core by core (internal error).
    [
      '{id: a, backend: torch, launcher: {bind: taskset, cores: 0-99999999}}',
      /launcher\.cores: core 99999999 is beyond any machine/,
    ],
    ['{id: a, backend: torch, launcher: {bind: taskset, cores: 3-1}}', /launcher\.cores: 3-1 runs backwards/],
    ['{id: a, backend: torch, optons: {dtype: bf16}}', /rung a: optons: unknown field/],
    ['{id: a, backend: torch, launchr: {threads: 2}}', /rung a: launchr: unknown field/],
    ['{id: a, backend: torch, env: null}', /rung a: env: Invalid input/],
    ['{id: a, backend: torch, article: null}', /rung a: article: Invalid input/],
    ['{id: ../a, backend: torch}', /rung \.\.\/a: id: must be lowercase letters/],
    // Hardening II: escape sequences would rewrite the user's terminal when the description is printed.
    ['{id: a, backend: torch, description: "x\\e[2J\\e]0;pwned\\ay"}', /rung a: description: must be printable text/],
  ])('refuses %s', async (rung, pattern) => {
    oneLine(await ladder(['rungs', '--ladder', ladderWith(rung)]), pattern);
  });

  it('keeps a ladder name from leading the output anywhere else', async () => {
    const file = ladderWith('{id: a, backend: sleep}', 'name: x/../../../../tmp/escaped');
    oneLine(await ladder(['reproduce', '--ladder', file, ...MOCK]), /name: must be lowercase letters/);
    expect(existsSync('/tmp/escaped-article')).toBe(false);
  });

  it('publishes the ladder schema for editors, kept equal to the one the loader uses', () => {
    const published = JSON.parse(readFileSync(path.join(repoRoot, 'ladders', 'ladder.schema.json'), 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(ladderJsonSchema())));
  });
});

describe('numbers get a type and a range', () => {
  it.each([
    [['--steps', '1e12'], /steps must be an integer from 1 to 1000/],
    [['--height', '1e9'], /height must be an integer from 8 to 4096/],
    [['--seed', '1e20'], /seed must be an integer from 0 to 4294967295/],
    [['--threads', '1e9'], /threads must be an integer from 1 to 4096/],
    [['--threads', '-5'], /threads must be an integer from 1 to 4096/],
    [['--min-psnr', 'abc'], /min-psnr must be a number from 0 to 1000 \(got NaN\)/],
    [['--heartbeat-timeout', '0.5'], /heartbeat-timeout must be a number from 2 to 86400/],
    [['--profile', 'bogus'], /Invalid values: Argument: profile, Given: "bogus", Choices: "article", "quick", "smoke"/],
    [['--rounds', '0'], /rounds must be an integer from 1 to 1000 \(got 0\)/],
    [['--rounds', '2.5'], /rounds must be an integer from 1 to 1000/],
    [['--precision', 'tight'], /--precision tight: expected a share like 5% or 0\.05/],
    [['--precision', '150%'], /--precision 150%: expected a share like 5% or 0\.05/],
    [['--rounds', '4', '--max-rounds', '3'], /--max-rounds 3 is below --rounds 4/],
    [['--budget', 'soon'], /--budget soon: expected a duration like 45m, 1h30m or 90s/],
    [['--order-seed', '-1'], /order-seed must be an integer from 0 to 2147483647/],
    [['--passes', '200', '--max-passes', '10'], /max-passes 10 is below passes 200/],
    [['--resume', '/nonexistent-run'], /no such run directory or file: \/nonexistent-run/],
  ])('refuses reproduce %j', async (args, pattern) => {
    oneLine(await ladder(['reproduce', '--only', 'baseline', ...MOCK, ...args]), pattern);
  });
});

describe('--dry-run checks what a real run checks (hardening II)', () => {
  it.each([
    [['reproduce', '--dry-run', '--steps', '1e12'], /steps must be an integer from 1 to 1000/],
    [['reproduce', '--dry-run', '--min-psnr', 'abc'], /min-psnr must be a number from 0 to 1000/],
    [['reproduce', '--dry-run', '--rounds', '0'], /rounds must be an integer from 1 to 1000/],
    [['rungs', '--dry-run', '--threads', '-5'], /threads must be an integer from 1 to 4096/],
    [['reproduce', '--dry-run', '--steps', '0x10'], /--steps 0x10: expected a decimal number/],
    [['run', 'baseline', ...MOCK, '--passes=0b11'], /--passes 0b11: expected a decimal number/],
  ])('refuses %j', async (args, pattern) => {
    oneLine(await ladder(args), pattern);
  });

  it('accepts more passes than max-passes defaults to (it named a flag never given)', async () => {
    const r = await ladder(['reproduce', '--dry-run', '--only', 'baseline', '--passes', '1500']);
    expect(r.exitCode, r.all).toBe(0);
  });
});

it('refuses --only naming no rung, instead of running them all', async () => {
  oneLine(await ladder(['reproduce', ...MOCK, '--only', ',']), /--only names no rung/);
});

it('runs under a TMPDIR too long for a socket path (the socket goes to /tmp)', async () => {
  const long = path.join(tmpDir(), 'x'.repeat(60), 'y'.repeat(60));
  mkdirSync(long, { recursive: true });
  const r = await ladder(['run', 'baseline', ...MOCK, '--passes', '1', '--out', tmpDir()], { TMPDIR: long });
  expect(r.exitCode, r.all).toBe(0);
});

describe('output folders', () => {
  it.each([
    [['--out', '/proc/ladder-out'], /--out \/proc\/ladder-out: not a place for results/],
    [['--out', path.join(repoRoot, 'package.json')], /package\.json is a file, not a folder/],
    [['--out', ''], /--out: an empty path \(name a folder\)/], // hardening II: wrote into the working folder
  ])('refuses %j before anything slow starts', async (args, pattern) => {
    oneLine(await ladder(['run', 'baseline', ...MOCK, ...args]), pattern);
  });

  it('refuses a trend page or a report under /proc at once (they used to spin, deaf to SIGTERM)', async () => {
    const r = await ladder(['trend', '--history', tmpDir(), '--out', '/proc/ladder-trend/trend.html']);
    oneLine(r, /--out \/proc\/ladder-trend: not a place for results/);
    oneLine(await ladder(['report', '/proc/ladder-run']), /run folder \/proc\/ladder-run: not a place for results/);
  });

  it('leaves no empty night folder when a night fails validation (hardening II)', async () => {
    const history = tmpDir();
    oneLine(
      await ladder(['nightly', '--only', 'baseline', ...MOCK, '--steps', '0', '--history', history]),
      /steps must be/,
    );
    const machines = readdirSync(history);
    const nights = machines.flatMap((m) => readdirSync(path.join(history, m)).filter((n) => !n.startsWith('.')));
    expect(nights).toEqual([]);
  });

  it('refuses the cache or the history under /proc', async () => {
    oneLine(
      await ladder(['run', 'baseline', ...MOCK, '--out', tmpDir()], { LADDER_CACHE_DIR: '/proc/ladder' }),
      /LADDER_CACHE_DIR\) \/proc\/ladder: not a place/,
    );
    oneLine(
      await ladder(['nightly', '--only', 'baseline', ...MOCK, '--history', '/proc/ladder-history']),
      /--history \/proc\/ladder-history: not a place/,
    );
  });

  it('never replaces a run already in --out, unless asked (--force)', async () => {
    const out = tmpDir();
    const first = await ladder(['run', 'baseline', ...MOCK, '--passes', '1', '--out', out]);
    expect(first.exitCode, first.all).toBe(0);
    const before = readFileSync(path.join(out, 'run.json'), 'utf8');
    oneLine(
      await ladder(['run', 'baseline', ...MOCK, '--passes', '1', '--out', out]),
      /already holds a run \(run\.json\): give --force/,
    );
    expect(readFileSync(path.join(out, 'run.json'), 'utf8')).toBe(before);
    const forced = await ladder(['run', 'baseline', ...MOCK, '--passes', '1', '--out', out, '--force']);
    expect(forced.exitCode, forced.all).toBe(0);
  });
});

describe('--resume', () => {
  function threeRungs(dir: string): string {
    const file = path.join(dir, 'l.yaml');
    writeFileSync(
      file,
      'name: r\nrungs:\n  - {id: base, backend: sleep}\n  - {id: kept, backend: sleep}\n  - {id: todo, backend: sleep}\n',
    );
    return file;
  }

  function unfinished(history: string, scenario: Record<string, unknown>) {
    const dir = path.join(history, machineId(machine()), '2026-11-28T01-00-00-000Z');
    mkdirSync(dir, { recursive: true });
    const rung = (id: string, status: string, samples: number[]) => ({
      id,
      status,
      config: { id, backend: 'sleep', env: 'torch', model: 'none', scenario },
      samples_s: samples,
      ...(status === 'ok' ? { stats: { median_s: samples[0], n: samples.length } } : {}),
    });
    const run = {
      schema_version: 2,
      tool: { name: 'ladder', version: '0.1.0' },
      command: 'ladder nightly',
      started: '2026-11-28T01:00:00.000Z',
      machine: machine(),
      rungs: [rung('base', 'ok', [0.05, 0.05]), rung('kept', 'ok', [0.07, 0.07]), rung('todo', 'running', [])],
    };
    writeFileSync(path.join(dir, 'run.json'), JSON.stringify(run));
    return dir;
  }

  it('refuses to mix another scenario into an unfinished night, and says what differs', async () => {
    const dir = tmpDir();
    const file = threeRungs(dir);
    const history = path.join(dir, 'history');
    unfinished(history, { steps: 20, height: 512 });
    oneLine(
      await ladder(['nightly', '--ladder', file, '--history', history, ...MOCK, '--resume']),
      /cannot resume .*: it measured something else \(.*steps 20 vs 2.*\)/,
    );
  });

  it('never drops a rung measured before, even one not selected now', async () => {
    const dir = tmpDir();
    const file = threeRungs(dir);
    const history = path.join(dir, 'history');
    // What MOCK asks for (the smoke profile): the same scenario, so the night may be resumed.
    const scenario = { ...PROFILES.smoke! };
    const night = unfinished(history, scenario);
    const r = await ladder([
      'nightly',
      '--ladder',
      file,
      '--history',
      history,
      ...MOCK,
      '--resume',
      '--only',
      'base,todo',
    ]);
    const run = JSON.parse(readFileSync(path.join(night, 'run.json'), 'utf8'));
    expect(r.exitCode, `${r.all}\n${JSON.stringify(run.rungs.map((x: { error?: string }) => x.error))}`).toBe(0);
    expect(run.rungs.map((x: { id: string; status: string }) => `${x.id}:${x.status}`)).toEqual([
      'base:ok',
      'todo:ok',
      'kept:ok',
    ]);
    expect(run.rungs[2].samples_s).toEqual([0.07, 0.07]);
  });
});

describe('ladder fleet: bad input', () => {
  const fleetWith = (body: string) => {
    const file = path.join(tmpDir(), 'fleet.yaml');
    writeFileSync(file, body);
    return file;
  };
  const root = () => tmpDir('ladder-fleet-bad-');
  it.each([
    ['submit', () => path.join(tmpDir(), 'none.yaml'), /none\.yaml: no such fleet file/],
    [
      'submit',
      () => fleetWith('name: x\nroot: relative/path\nclasses: [{name: a}]\n'),
      /root: must be an absolute path/,
    ],
    ['submit', () => fleetWith(`name: x\nroot: ${root()}\nclasses: []\n`), /classes: .*1/],
    [
      'submit',
      () => fleetWith(`name: x\nroot: ${root()}\nclasses: [{name: a}, {name: a}]\n`),
      /two classes have one name/,
    ],
    [
      'submit',
      () => fleetWith(`name: x\nroot: ${root()}\nclasses: [{name: a, feature: "spr; rm -rf /"}]\n`),
      /feature: must be a Slurm word/,
    ],
    ['submit', () => fleetWith(`name: x\nroot: ${root()}\nenvs: newest\nclasses: [{name: a}]\n`), /envs: /],
    [
      'status',
      () => fleetWith(`name: x\nroot: ${root()}\nclasses: [{name: a}]\n`),
      /no fleet submission under .*\(run: ladder fleet submit\)/,
    ],
    ['gather', () => fleetWith(`name: x\nroot: ${root()}\nclasses: [{name: a}]\n`), /no fleet submission/],
  ])('%s refuses a bad fleet in one line (%#)', async (action, file, pattern) => {
    oneLine(await ladder(['fleet', action, '--fleet', file()]), pattern);
  });

  it('refuses --all for status, and an unknown submission id', async () => {
    const f = fleetWith(`name: x\nroot: ${root()}\nclasses: [{name: a}]\n`);
    oneLine(await ladder(['fleet', 'status', '--all', '--fleet', f]), /--all: only for gather and report/);
    oneLine(
      await ladder(['fleet', 'report', '--id', 'nope', '--fleet', f]),
      /no fleet submission|no fleet submission nope/,
    );
  });
});
