// What users see of the command line (issue 21): the config file as per-command defaults, --json on
// every command that reports something, one table of exit codes, suggestions for typos, help that
// helps. Only commands that start no worker (or the sleep one) run here.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFleet } from '../../src/fleet/config.ts';
import { newManifest, saveManifest } from '../../src/fleet/manifest.ts';
import { repoRoot } from '../../src/paths.ts';
import type { RunFile } from '../../src/results/run-file.ts';
import { stats } from '../../src/results/stats.ts';
import { fixtureRun } from '../fixtures/run.ts';
import { ladder, tmpDir } from '../helpers.ts';

/** A config file of its own, named through LADDER_CONFIG. */
function config(text: string): { LADDER_CONFIG: string } {
  const file = path.join(tmpDir('ladder-config-'), 'ladder.config.yaml');
  writeFileSync(file, text);
  return { LADDER_CONFIG: file };
}

function writeRun(dir: string, run: RunFile): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'run.json'), `${JSON.stringify(run, null, 2)}\n`);
  return dir;
}

/** Run A, and run B with its baseline twice as slow (a regression). */
function comparePair(): { a: string; b: string } {
  const root = tmpDir('ladder-surface-');
  const slow = fixtureRun();
  for (const r of slow.rungs)
    if (r.id === 'baseline') {
      r.samples_s = r.samples_s.map((s) => 2 * s);
      r.stats = stats(r.samples_s);
    }
  return { a: writeRun(path.join(root, 'a'), fixtureRun()), b: writeRun(path.join(root, 'b'), slow) };
}

/** A nightly history of one machine and one night. */
function history(): string {
  const root = path.join(tmpDir('ladder-history-'), 'history');
  const run = fixtureRun();
  run.nightly = { machine_id: 'm1', verdicts: [], version_changes: [] };
  writeRun(path.join(root, 'm1', '2026-11-20T02-15-03Z'), run);
  return root;
}

const oneLine = (r: { stderr: string }) => expect(r.stderr.trim().split('\n')).toHaveLength(1);

describe('the config file sets defaults only for the commands that take each key', () => {
  const documented = config('model: synthetic:sd15\nmin_psnr: 25\nprofile: smoke\nheartbeat_timeout: 60\n');
  it.each([
    [['rungs']],
    [['envs', 'list']],
    [['config']],
    [['fleet', 'status', '--fleet', '/nonexistent/fleet.yaml']],
    [['trend', '--history', '/nonexistent/history']],
    [['run', 'baseline', '--dry-run']],
    [['reproduce', '--dry-run', '--only', 'baseline']],
  ])('never breaks ladder %j', async (args) => {
    const r = await ladder(args, documented);
    expect(r.stderr).not.toMatch(/Unknown argument|unknown option/i);
    expect(r.stderr).not.toContain('ladder.config.yaml');
  });

  it('reaches the commands that take the key, and a flag given wins', async () => {
    // heartbeat_timeout below two heartbeats: refused by run (which takes it), not by rungs.
    const env = config('heartbeat_timeout: 0.5\n');
    const run = await ladder(['run', 'baseline', '--dry-run'], env);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe(
      `ladder: error: ${env.LADDER_CONFIG}: heartbeat_timeout: heartbeat-timeout must be a number from 2 to 86400 (got 0.5)`,
    );
    expect((await ladder(['run', 'baseline', '--dry-run', '--heartbeat-timeout', '30'], env)).exitCode).toBe(0);
    expect((await ladder(['rungs'], env)).exitCode).toBe(0);
    // history: nightly's and trend's
    const h = history();
    const trend = await ladder(['trend', '--json'], config(`history: ${h}\n`));
    expect(trend.exitCode, trend.all).toBe(0);
    expect(JSON.parse(trend.stdout)).toMatchObject({ machine_id: 'm1', nights: 1 });
  });

  it('names the file and the key in its errors', async () => {
    const bad = config('profile: bogus\n');
    const r = await ladder(['run', 'baseline', '--dry-run'], bad);
    expect(r.exitCode).toBe(2);
    oneLine(r);
    expect(r.stderr).toBe(`ladder: error: ${bad.LADDER_CONFIG}: profile: 'bogus' is not one of article, quick, smoke`);
    const model = config('model: synthetic:nope\n');
    const m = await ladder(['run', 'baseline', '--dry-run'], model);
    expect(m.stderr).toMatch(
      new RegExp(`^ladder: error: ${model.LADDER_CONFIG}: model: unknown model 'synthetic:nope'`),
    );
    const typo = config('min_pnsr: 25\n');
    const t = await ladder(['rungs'], typo);
    expect(t.exitCode).toBe(2);
    expect(t.stderr).toContain(`${typo.LADDER_CONFIG}: min_pnsr: unknown key (did you mean min_psnr?)`);
  });

  it('a wrong LADDER_CONFIG does not break --help or --version', async () => {
    const env = { LADDER_CONFIG: '/nonexistent/ladder.config.yaml' };
    for (const args of [['--help'], ['--version'], ['reproduce', '--help']]) {
      const r = await ladder(args, env);
      expect(r.exitCode, `${args}: ${r.all}`).toBe(0);
      expect(r.stdout).not.toBe('');
    }
    const r = await ladder(['rungs'], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('LADDER_CONFIG=/nonexistent/ladder.config.yaml: no such file');
  });

  it('ladder config shows each default and where it came from', async () => {
    const env = { ...config('model: synthetic:sd15\n'), LADDER_CACHE_DIR: tmpDir() };
    const r = await ladder(['config', '--json', '--min-psnr', '30'], env);
    expect(r.exitCode, r.all).toBe(0);
    const doc = JSON.parse(r.stdout);
    const key = (k: string) => doc.keys.find((x: { key: string }) => x.key === k);
    expect(doc.file).toBe(env.LADDER_CONFIG);
    expect(key('model')).toMatchObject({ value: 'synthetic:sd15', source: 'file', sets: '--model' });
    expect(key('min_psnr')).toMatchObject({ value: 30, source: 'flag' });
    expect(key('profile')).toMatchObject({ value: 'quick', source: 'built-in' });
    expect(key('cache_dir')).toMatchObject({ value: env.LADDER_CACHE_DIR, source: 'env' });
    const text = await ladder(['config'], env);
    expect(text.stdout).toMatch(/^model\s+synthetic:sd15\s+file\s+--model of run, reproduce, nightly, tune, overhead/m);
  });
});

describe('plain text lists', () => {
  // Each column starts where the longest name ends (openvino-genai-bf16 is 19 characters).
  it('rungs and backends keep their second column aligned, whatever the longest name', async () => {
    const starts = (stdout: string, names: string[]) =>
      stdout
        .split('\n')
        .filter((l) => names.some((n) => l.startsWith(`${n} `)))
        .map((l) => l.search(/ \S/));
    const rungs = await ladder(['rungs', '--ladder', 'peers']);
    expect(rungs.exitCode, rungs.all).toBe(0);
    const ids = ['openvino-static', 'openvino-genai-bf16', 'sdcpp-q8_0'];
    expect(new Set(starts(rungs.stdout, ids))).toEqual(new Set(['openvino-genai-bf16'.length]));
    const backends = await ladder(['rungs', '--backends']);
    expect(backends.exitCode, backends.all).toBe(0);
    expect(new Set(starts(backends.stdout, ['torch', 'openvino-genai', 'sdcpp']))).toEqual(
      new Set(['openvino-genai'.length]),
    );
  });
});

describe('--json: one document on stdout, on every command that reports something', () => {
  const json = (r: { stdout: string; exitCode: number; all: string }) => {
    expect(r.exitCode, r.all).toBe(0);
    return JSON.parse(r.stdout);
  };

  it('compare, rungs, envs list, config, report, trend', async () => {
    const { a, b } = comparePair();
    const c = json(await ladder(['compare', a, b, '--json']));
    expect(c).toMatchObject({ regression: true, warnings: [] });
    expect(c.rows.find((r: { id: string }) => r.id === 'baseline')).toMatchObject({ verdict: 'slower' });
    const rungs = json(await ladder(['rungs', '--ladder', 'beyond', '--json']));
    expect(rungs.ladder.name).toBe('beyond');
    expect(rungs.rungs.map((r: { id: string }) => r.id)).toContain('combined');
    expect(json(await ladder(['rungs', '--backends', '--json'])).backends[0]).toHaveProperty('options');
    const envs = json(await ladder(['envs', 'list', '--json']));
    expect(envs.envs.map((e: { name: string }) => e.name)).toContain('torch');
    expect(json(await ladder(['report', a, '--json'])).files).toContain(path.join(a, 'report.md'));
    expect(json(await ladder(['trend', '--history', history(), '--json']))).toMatchObject({ nights: 1 });
  });

  it('fleet status', async () => {
    const root = tmpDir('ladder-fleet-');
    const file = path.join(root, 'fleet.yaml');
    writeFileSync(file, `name: lab\nroot: ${root}\nengine: local\nclasses:\n  - { name: spr }\n`);
    const job = { class: 'spr', id: 'local-1-spr', state: 'completed' as const, script: '', output: '' };
    saveManifest(newManifest(loadFleet(file), '20261205-000000', 'ladder fleet submit', [job]));
    const doc = json(await ladder(['fleet', 'status', '--fleet', file, '--json']));
    expect(doc).toMatchObject({ fleet: 'lab', id: '20261205-000000', engine: 'local', jobs: [job] });
  });

  it('doctor', async () => {
    const d = await ladder(['doctor', '--json']);
    const doc = JSON.parse(d.stdout);
    expect(doc.checks.find((c: { what: string }) => c.what === 'node')).toMatchObject({ ok: true });
    expect(typeof doc.ok).toBe('boolean');
  });

  it('the dry runs of run, reproduce, rungs and tune', async () => {
    for (const args of [
      ['run', 'jemalloc', '--dry-run', '--json'],
      ['reproduce', '--dry-run', '--only', 'jemalloc', '--json'],
      ['rungs', '--dry-run', '--only', 'jemalloc', '--json'],
    ]) {
      const doc = json(await ladder(args));
      expect(doc.rungs, args.join(' ')).toHaveLength(1);
      expect(doc.rungs[0]).toMatchObject({ id: 'jemalloc', backend: 'torch' });
      expect(doc.rungs[0].workers[0].argv).toContain('ladder_worker');
    }
    const tune = json(await ladder(['tune', '--dry-run', '--json', '--runs', tmpDir()]));
    expect(tune).toMatchObject({ space: 'space', objective: 'latency' });
    expect(tune.candidates.length).toBeGreaterThan(0);
    expect(tune.plan.length).toBeGreaterThan(1);
    // --max-rounds cuts the plan too; a count that is not a whole number of rounds is bad input.
    const one = json(await ladder(['tune', '--dry-run', '--json', '--runs', tmpDir(), '--max-rounds', '1']));
    expect(one.plan).toHaveLength(1);
    const bad = await ladder(['tune', '--dry-run', '--max-rounds', '0']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe('ladder: error: max-rounds must be an integer from 1 to 100 (got 0)');
  });

  it('nightly: the night, not its one-line summary', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'l.yaml');
    writeFileSync(file, 'name: surface\nrungs:\n  - {id: baseline, backend: sleep, options: {pass_s: 0.01}}\n');
    const r = await ladder([
      'nightly',
      '--ladder',
      file,
      '--history',
      path.join(dir, 'h'),
      '--json',
      '--model',
      'none',
      '--profile',
      'smoke',
      '--warmup-steps',
      '1',
      '--steps',
      '2',
      '--no-roofline',
      '--no-machine-probe',
    ]);
    const doc = json(r);
    expect(doc).toMatchObject({ locked: false, verdicts: [{ id: 'baseline', verdict: 'new' }] });
    expect(r.stderr).toMatch(/baseline/); // the progress went to stderr
  });

  it.each([
    [['nightly', '--out', '/tmp/x'], 'unknown option --out for nightly'],
    [['tune', '--dry-run', '--set', 'options.dtype=bogus'], 'unknown option --set for tune'],
    [['tune', '--dry-run', '--ladder', '/nonexistent.yaml'], 'unknown option --ladder for tune'],
    [['envs', 'prune', '--json'], 'unknown option --json for envs'],
    [['fleet', 'submit', '--json'], '--json: fleet status only, not fleet submit'],
    [['compare', 'a', 'b', '--json', '--markdown'], '--json and --markdown: give one of them'],
  ])('refuses a flag the command cannot honour: ladder %j', async (args, message) => {
    const r = await ladder(args);
    expect(r.exitCode).toBe(2);
    oneLine(r);
    expect(r.stderr).toContain(`ladder: error: ${message}`);
    expect(r.stdout).toBe('');
  });
});

describe('one table of exit codes', () => {
  it('compare --fail-on-regression exits 10, as a nightly regression', async () => {
    const { a, b } = comparePair();
    expect((await ladder(['compare', a, b, '--fail-on-regression'])).exitCode).toBe(10);
    expect((await ladder(['compare', a, b])).exitCode).toBe(0);
    expect((await ladder(['compare', a, a, '--fail-on-regression'])).exitCode).toBe(0);
  });

  it('is in ladder --help', async () => {
    const r = await ladder(['--help']);
    expect(r.stdout).toMatch(
      /Exit codes:\n\s+0\s+ok\n\s+1\s+a rung failed\n\s+2\s+bad input.*\n\s+3\s+.*lock\n\s+10\s+a regression/,
    );
  });
});

describe('help that helps', () => {
  it.each([
    [['reproduse'], "unknown command 'reproduse' (did you mean reproduce?)"],
    [['reproduce', '--pases', '3', '--dry-run'], 'unknown option --pases for reproduce (did you mean --passes?)'],
    [['envs', 'lsit'], "unknown command 'lsit' for envs (did you mean list?)"],
    [['run', 'combined'], 'rung combined is in ladders/beyond.yaml: --ladder beyond'],
    [['run', 'basline', '--dry-run'], "unknown rung 'basline' (did you mean baseline? article.yaml has: baseline,"],
    [['reproduce', '--only', 'combined', '--dry-run'], 'rung combined is in ladders/beyond.yaml: --ladder beyond'],
    [['fleet'], 'fleet: name an action: submit (one job per machine class), status'],
  ])('ladder %j', async (args, message) => {
    const r = await ladder(args);
    expect(r.exitCode).toBe(2);
    oneLine(r);
    expect(r.stderr).toContain(`ladder: error: ${message}`);
  });

  it('lists the ladders of ladders/, gives examples, and says why the default profile is quick', async () => {
    // Help is wrapped to the terminal's width: read as one line.
    const help = async (args: string[]) => (await ladder(args)).stdout.replace(/\s+/g, ' ');
    const run = await help(['run', '--help']);
    // Every ladder file of ladders/ (the tune space is not a ladder), as the folder holds them now.
    const ladders = readdirSync(path.join(repoRoot, 'ladders'))
      .filter((f) => f.endsWith('.yaml') && f !== 'space.yaml')
      .map((f) => f.replace(/\.yaml$/, ''))
      .sort();
    expect(ladders).toContain('beyond');
    expect(run).toContain(`the name of one in ladders/: ${ladders.join(', ')} [`);
    expect(run).toMatch(/Examples: ladder run baseline/);
    expect(run).toMatch(
      /Default quick: a first run should answer in minutes \(a rung\) or an hour \(the ladder\), not the article's hours \[string\] \[choices: .*\] \[default: "quick"\]/,
    );
    for (const cmd of ['reproduce', 'tune']) expect(await help([cmd, '--help']), cmd).toContain('[default: "quick"]');
    expect(await help(['nightly', '--help'])).toMatch(
      /its own nights, at the article's scenario \[string\] .*\[default: "article"\]/,
    );
    expect(await help(['--help'])).toMatch(/Examples: ladder reproduce/);
  });
});
