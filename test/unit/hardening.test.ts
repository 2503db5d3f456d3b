// Pure pieces of the hardening: each case failed before its fix.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { describeStack, isReady } from '../../src/envs/stacks.ts';
import { UserError } from '../../src/errors.ts';
import { writeFileAtomic } from '../../src/files.ts';
import { launchPlan, preloadLibrary } from '../../src/launcher/launch.ts';
import { tryLock, unlock } from '../../src/lock.ts';
import { newRunDir, runStamp } from '../../src/out-dir.ts';
import { renderHtml } from '../../src/render/html.ts';
import { renderReport } from '../../src/render/report.ts';
import { placeOnRoofline, runPeaks } from '../../src/results/roofline.ts';
import { readHistory, readRunFile } from '../../src/results/run-file.ts';
import { kthRatio, ratioCI } from '../../src/results/significance.ts';
import { readPeaks } from '../../src/run/roofline-step.ts';
import { rng } from '../../src/run/rounds.ts';
import { checkResumable } from '../../src/run/store.ts';
import { applyOverrides, loadLadder } from '../../src/rungs/ladder.ts';
import { ARTICLE_SCENARIO } from '../../src/rungs/settings.ts';
import { commandLine, terminalText } from '../../src/shell.ts';
import { pastRungs } from '../../src/tune/plan.ts';
import { enumerate, loadSpace } from '../../src/tune/space.ts';
import { MAX_TIMER_MS, timerMs } from '../../src/worker/session.ts';
import { readYamlFile } from '../../src/yaml-file.ts';
import { fixtureRun } from '../fixtures/run.ts';
import { tmpDir } from '../helpers.ts';

it('gives two runs started in the same millisecond two folders', () => {
  const root = tmpDir();
  const a = newRunDir(root, 'x');
  const b = newRunDir(root, 'x');
  expect(a).not.toBe(b);
  expect(readdirSync(root)).toHaveLength(2);
  expect(runStamp(new Date('2026-11-28T17:35:01.234Z'))).toBe('2026-11-28T17-35-01-234Z'); // milliseconds kept
});

it('keeps every variable that changes what is measured out of a worker, and says it', () => {
  const shell = {
    PATH: '/bin',
    GLIBC_TUNABLES: 'glibc.malloc.arena_max=1',
    MALLOC_ARENA_MAX: '1',
    PYTHONMALLOC: 'malloc',
    LD_LIBRARY_PATH: '/x',
    ATEN_CPU_CAPABILITY: 'avx2',
    OPENBLAS_NUM_THREADS: '1',
    TCMALLOC_RELEASE_RATE: '10',
    OV_CPU_THREADS: '1',
    // Missed before hardening II: loader, ZenDNN and PyTorch switches.
    LD_AUDIT: '/tmp/audit.so',
    LD_BIND_NOW: '1',
    ZENDNN_MATMUL_ALGO: 'FP32:4',
    PYTORCH_TUNABLEOP_ENABLED: '1',
    PYTHONPATH: '/evil',
    LADDER_CACHE_DIR: '/c',
  };
  const plan = launchPlan('/py', { allocator: 'default' }, 'ipc:///x', 'r', shell);
  expect(
    Object.keys(plan.env)
      .filter((k) => k in shell)
      .sort(),
  ).toEqual(['LADDER_CACHE_DIR', 'PATH', 'PYTHONPATH']);
  expect(plan.env.PYTHONPATH).not.toBe('/evil');
  expect(plan.env).toMatchObject({
    DIFFUSERS_DISABLE_REMOTE_CODE: '1',
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
  });
});

it('rebuilds a broken peak cache instead of failing the run', () => {
  const file = path.join(tmpDir(), 'peaks.json');
  const lines: string[] = [];
  writeFileSync(file, '{"fp32": 3');
  expect(readPeaks(file, (l) => lines.push(l))).toEqual({});
  expect(lines[0]).toMatch(/is broken .*: probing again/);
  writeFileSync(file, JSON.stringify({ fp32: 'fast', bf16: -1, int8: 900 }));
  expect(readPeaks(file, () => undefined)).toEqual({ int8: 900 });
});

it('flags a share above 100% of the peak instead of printing it', () => {
  const run = fixtureRun();
  run.roofline = {
    flops: { text_encoding: 0, unet_per_call: 1e12, unet: 2.1e13, vae_decode: 0, safety_checker: 0, total: 2.1e13 },
    peaks_gflops: { fp32: 50, bf16: 2000 },
    peak_cache: '/dev/null',
  };
  placeOnRoofline(run);
  const base = run.rungs[0]!.roofline!;
  expect(base.dtype).toBe('fp32');
  expect(base.gflops).toBeGreaterThan(50);
  expect(base.pct_of_peak).toBeUndefined();
  expect(base.above_peak).toBe(true);
});

it("places rungs against this run's machine probe where it read above a cached peak (slow-moment cache)", () => {
  const run = fixtureRun();
  run.roofline = {
    flops: { text_encoding: 1e9, unet_per_call: 1e9, unet: 3e9, vae_decode: 1e9, safety_checker: 1e9 },
    peaks_gflops: { fp32: 150, bf16: 500 },
    peak_cache: '/dev/null',
  };
  const at = '2026-11-28T00:00:00Z';
  run.machine_probe = {
    backend: 'torch',
    start: { gflops: { fp32: 140, bf16: 700 }, probes: {}, at },
    end: { gflops: { fp32: 120, bf16: 750 }, probes: {}, at },
  };
  expect(runPeaks(run)).toEqual({ fp32: 150, bf16: 750 });
  placeOnRoofline(run);
  const base = run.rungs[0]!.roofline!;
  expect(base.dtype).toBe('fp32');
  expect(base.pct_of_peak).toBeCloseTo((100 * base.gflops) / 150);
  run.rungs[0]!.overhead = { controller_cpu_pct_of_passes: 0.1, bench_job_gap_ms: 1 };
  expect(renderReport(run)).toMatch(/bf16 750 GFLOP\/s \(this run's machine probe; the peak probe read 500\)/);
});

it('preloads only the real file of the allocator named, never a second path or a disguised one', () => {
  const dir = tmpDir();
  writeFileSync(path.join(dir, 'x.so'), 'not an allocator');
  symlinkSync(path.join(dir, 'x.so'), path.join(dir, 'libjemalloc.so.2'));
  expect(() => preloadLibrary('jemalloc', path.join(dir, 'libjemalloc.so.2'), 'r')).toThrow(
    /launcher\.library \S+libjemalloc\.so\.2 is \S+\/x\.so, not a jemalloc library/,
  );
  expect(() => preloadLibrary('jemalloc', `${path.join(dir, 'x.so')}:/usr/lib/libjemalloc.so.2`, 'r')).toThrow(
    /one absolute path/,
  );
  expect(() => preloadLibrary('jemalloc', `${path.join(dir, 'x.so')} /usr/lib/libjemalloc.so.2`, 'r')).toThrow(
    /one absolute path/,
  );
  // A missing file is passed on: the loader ignores it and the worker's proof fails the rung.
  expect(preloadLibrary('jemalloc', '/nonexistent/libjemalloc.so.2', 'r')).toBe('/nonexistent/libjemalloc.so.2');
  // A link to a file named like the allocator is preloaded as that file (no system library needed here:
  // the real tier preloads the real one and the worker proves it mapped).
  mkdirSync(path.join(dir, 'lib'));
  writeFileSync(path.join(dir, 'lib', 'libjemalloc.so.2'), '');
  symlinkSync(path.join(dir, 'lib', 'libjemalloc.so.2'), path.join(dir, 'libjemalloc.so'));
  const plan = launchPlan(
    '/py',
    { allocator: 'jemalloc', library: path.join(dir, 'libjemalloc.so') },
    'ipc:///x',
    'r',
    {},
  );
  expect(plan.env.LD_PRELOAD).toBe(realpathSync(path.join(dir, 'lib', 'libjemalloc.so.2')));
});

it('runs no interpreter from a cache folder whose environment marker was not written by provisioning', async () => {
  const cache = tmpDir();
  const saved = process.env.LADDER_CACHE_DIR;
  process.env.LADDER_CACHE_DIR = cache;
  try {
    const { dir } = await describeStack('torch');
    mkdirSync(path.join(dir, 'bin'), { recursive: true });
    writeFileSync(path.join(dir, 'bin', 'python'), '#!/bin/sh\ntouch /tmp/pwned\n', { mode: 0o755 });
    writeFileSync(path.join(dir, '.ladder-env.json'), '{}');
    expect((await describeStack('torch')).state).not.toBe('ready');
    const stack = await describeStack('torch');
    writeFileSync(path.join(dir, '.ladder-env.json'), JSON.stringify({ name: 'torch', key: 'f00', freeze: ['x==1'] }));
    expect((await describeStack('torch')).state).not.toBe('ready'); // another key
    writeFileSync(
      path.join(dir, '.ladder-env.json'),
      JSON.stringify({ name: 'torch', key: stack.key, freeze: ['x==1'] }),
    );
    expect(isReady(dir, 'torch', stack.key)).toBe(true); // what provisioning writes
  } finally {
    if (saved === undefined) delete process.env.LADDER_CACHE_DIR;
    else process.env.LADDER_CACHE_DIR = saved;
  }
});

it('says once that a config file of the working folder is used, and what it sets', () => {
  const cwd = tmpDir();
  writeFileSync(path.join(cwd, 'ladder.config.yaml'), 'cache_dir: ./evilcache\nmin_psnr: 25\n');
  const notes: string[] = [];
  const env: Record<string, string | undefined> = {};
  loadConfig(env, cwd, (l) => notes.push(l));
  expect(notes).toEqual([`ladder: using ${path.join(cwd, 'ladder.config.yaml')} (cache_dir, min_psnr)`]);
  expect(env.LADDER_CACHE_DIR).toBe(path.join(cwd, 'evilcache'));
});

it('never blocks on a FIFO in place of a run.json, a ladder or a config file', () => {
  const dir = tmpDir();
  for (const f of ['run.json', 'ladder.yaml', 'ladder.config.yaml']) execFileSync('mkfifo', [path.join(dir, f)]);
  expect(() => readRunFile(dir)).toThrow(/run\.json: not a regular file/);
  expect(() => readYamlFile(path.join(dir, 'ladder.yaml'), 'ladder file')).toThrow(/not a regular file/);
  expect(() => loadConfig({}, dir, () => undefined)).toThrow(/ladder\.config\.yaml: not a regular file/);
});

it('records the command shell-quoted: pasted back, it runs what was asked and nothing else', () => {
  const argv = ['reproduce', '--prompt', 'a; $(touch x) `id` "q" \'s\'', '--out', 'my runs/1'];
  const line = commandLine(argv);
  expect(line).toBe(`ladder reproduce --prompt 'a; $(touch x) \`id\` "q" '\\''s'\\''' --out 'my runs/1'`);
  // The shell reads back exactly the words given.
  const words = execFileSync('sh', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' })
    .split('\0')
    .slice(0, -1);
  expect(words).toEqual(['ladder', ...argv]);
});

it('prints rung ids of a run.json from elsewhere as text in report.md: no HTML, no broken table', () => {
  const run = fixtureRun();
  const evil = '<script>alert(1)</script>|x';
  run.rungs[1]!.id = evil;
  const md = renderReport(run);
  expect(md).not.toContain('<script>');
  const row = md.split('\n').find((l) => l.includes('alert(1)') && l.startsWith('|'))!;
  const header = md.split('\n').find((l) => l.startsWith('| rung |'))!;
  // Unescaped cell separators: as many as the header's.
  const cells = (l: string) => l.split(/(?<!\\)\|/).length;
  expect(cells(row)).toBe(cells(header));
});

it('refuses keys that reach Object.prototype, from --set and from a space file', () => {
  const rung = loadLadder().rungs[0]!;
  for (const set of ['launcher.__proto__.bind=numactl', 'options.constructor.x=1', 'launcher.prototype=1'])
    expect(() => applyOverrides(rung, [set])).toThrow(/is not a field/);
  const dir = tmpDir();
  for (const [i, body] of [
    'reference: { backend: torch, launcher: { "__proto__": { bind: numactl } } }\naxes: { backend: [torch] }',
    'reference: { backend: torch }\naxes: { backend: [torch], "__proto__.bind": [numactl] }',
    'reference: { backend: torch }\naxes: { backend: [torch], "options.__proto__": [1] }',
  ].entries()) {
    const f = path.join(dir, `s${i}.yaml`);
    writeFileSync(f, `name: s\n${body}\n`);
    expect(() => loadSpace(f)).toThrow(UserError);
  }
  expect(({} as Record<string, unknown>).bind).toBeUndefined();
});

it("refuses escape sequences in a space's description or a constraint's why", () => {
  const f = path.join(tmpDir(), 's.yaml');
  writeFileSync(
    f,
    'name: s\nreference: { backend: torch }\naxes: { backend: [torch] }\nconstraints:\n  - { when: { backend: torch }, forbid: { backend: torch }, why: "\\e[31mred" }\n',
  );
  expect(() => loadSpace(f)).toThrow(/constraints\.0\.why: must be printable text/);
});

it('takes over a stale lock even when a dead taker left its tombstone behind', () => {
  const lock = path.join(tmpDir(), 'night.lock');
  // A record of a process that is gone (pid 2^22 + 1 is above any pid_max default), and the
  // tombstone a taker made of it before it died.
  const record = JSON.stringify({ pid: 4194305, start: '1' });
  writeFileSync(lock, record);
  const tomb = `${lock}.stale-${Buffer.from(record).toString('hex').slice(0, 64)}`;
  linkSync(lock, tomb);
  expect(tryLock(lock, 0)).toBe(true); // before the fix: false for ever
  unlock(lock);
  expect(existsSync(tomb)).toBe(false);
});

it('refuses to resume a run with another --set, --threads or --envs, naming the difference', () => {
  const ladder = loadLadder();
  const rung = ladder.rungs[0]!;
  const scenario = { ...ARTICLE_SCENARIO };
  const previous = fixtureRun();
  previous.ladder = { ...previous.ladder!, name: ladder.name, file: ladder.file };
  previous.rungs = [{ ...previous.rungs[0]!, id: rung.id, config: { ...rung, model: 'm', scenario } }];
  previous.environments = { torch: { key: 'k', channel: 'pinned', packages: {} } };
  const settings = { model: 'm', scenario };
  expect(() => checkResumable(previous, ladder, settings, [rung])).not.toThrow();
  expect(() =>
    checkResumable(previous, ladder, settings, [applyOverrides(rung, ['launcher.allocator=tcmalloc'])]),
  ).toThrow(/rung baseline launcher \{[^}]*"allocator":"default"[^}]*\} vs \{[^}]*"allocator":"tcmalloc"/);
  expect(() => checkResumable(previous, ladder, { ...settings, threads: 1 }, [rung])).toThrow(/rung baseline launcher/);
  expect(() => checkResumable(previous, ladder, { ...settings, envs: 'latest' }, [rung])).toThrow(
    /--envs pinned vs latest/,
  );
});

it('refuses a space too large to enumerate at once, instead of looping for hours', () => {
  const f = path.join(tmpDir(), 'huge.yaml');
  const values = (n: number) => `[${Array.from({ length: n }, (_, i) => i + 1).join(', ')}]`;
  writeFileSync(
    f,
    `name: huge\nreference: { backend: torch }\naxes:\n  backend: [torch]\n  launcher.threads: ${values(64)}\n  options.a: ${values(64)}\n  options.b: ${values(64)}\n  options.c: ${values(64)}\n`,
  );
  // Refused before the first combination is built (it used to validate all 16.7 million).
  expect(() => enumerate(loadSpace(f))).toThrow(/space huge: 16,777,216 combinations of its axes; at most 10,000/);
});

it('finds the ratio interval of thousands of passes without building every pairwise ratio', () => {
  // 600 x 600 pairs take the bisection path; the brute force says what the answer must be.
  const rand = rng(7);
  const ref = Array.from({ length: 600 }, () => 2 + rand());
  const cur = Array.from({ length: 600 }, () => 1 + rand());
  const all = ref.flatMap((r) => cur.map((c) => r / c)).sort((a, b) => a - b);
  for (const k of [1, 17, 180_000, 359_999, 360_000])
    expect(kthRatio(ref, cur, k) / all[k - 1]! - 1).toBeLessThan(1e-12);
  for (const k of [1, 17, 180_000, 359_999, 360_000])
    expect(kthRatio(ref, cur, k) / all[k - 1]! - 1).toBeGreaterThan(-1e-12);
  // 6,000 passes a side: 36 million pairs, formerly 1.7 GB of them.
  const big = (base: number) => Array.from({ length: 6000 }, () => base + rand());
  const ci = ratioCI(big(1), big(2))!;
  expect(ci.level).toBe(0.95);
  expect(ci.ci[0]).toBeLessThan(ci.ci[1]);
  expect(ci.ci[0]).toBeGreaterThan(1.4);
  expect(ci.ci[1]).toBeLessThan(1.8);
});

it('reads a run.json with a string where a number or a list belongs as not a run file (exit 2, not an internal error)', () => {
  for (const [field, value] of [
    ['speedup_vs_baseline', 'fast'],
    ['warnings', 'careful'],
    ['quality', { psnr_db: 'high' }],
  ] as const) {
    const run = JSON.parse(JSON.stringify(fixtureRun()));
    run.rungs[1][field] = value;
    const dir = tmpDir();
    writeFileSync(path.join(dir, 'run.json'), JSON.stringify(run));
    expect(() => readRunFile(dir)).toThrow(UserError);
    expect(() => readRunFile(dir)).toThrow(new RegExp(`rungs\\.1\\.${field}`));
  }
});

it('skips plain files among earlier runs and in a history root instead of failing', () => {
  const root = tmpDir();
  writeFileSync(path.join(root, 'notes.txt'), 'not a run');
  expect(pastRungs(root, 'synthetic:tiny', ARTICLE_SCENARIO)).toEqual([]);
  expect(() => pastRungs(path.join(root, 'notes.txt'), 'synthetic:tiny', ARTICLE_SCENARIO)).toThrow(/is not a folder/);
  expect(readHistory(path.join(root, 'notes.txt'))).toMatchObject({
    runs: [],
    skipped: [{ reason: 'not a folder of runs' }],
  });
});

it('holds a deadline beyond 24.8 days at the largest delay Node honours (it fired after 1 ms)', () => {
  // --min-time 604800 at the article profile: "job bench exceeded 1163215696 s" at once.
  expect(timerMs(1_163_215_696)).toBe(MAX_TIMER_MS);
  expect(timerMs(2.5)).toBe(2500);
  expect(timerMs(-1)).toBe(0);
});

it('names the flag the user gave and the file the config came from', () => {
  const dir = tmpDir();
  writeFileSync(path.join(dir, 'list.yaml'), '- model\n- profile\n');
  expect(() => loadConfig({ LADDER_CONFIG: path.join(dir, 'list.yaml') }, dir)).toThrow(
    /list\.yaml: must be a mapping of settings \(model, profile, .*\), not a list/,
  );
});

it('prints no escape sequence a run.json from elsewhere carries', () => {
  expect(terminalText('rung \u001b[2J\u001b]0;pwned\u0007x\tok\n')).toBe('rung ?[2J?]0;pwned?x\tok\n');
});

it('shows in report.html the ids report.md escapes, as they are', () => {
  const run = fixtureRun();
  run.rungs[1]!.id = 'ipex_bf16<b>|x';
  const html = renderHtml(run, '<svg/>');
  expect(html).toContain('<th scope="row">ipex_bf16&lt;b&gt;|x</th>');
  expect(html).not.toContain('<b>|x');
});

it('replaces a symlink in place of an output file instead of writing through it', () => {
  const dir = tmpDir();
  const victim = path.join(dir, 'victim.txt');
  writeFileSync(victim, 'keep me');
  const page = path.join(dir, 'trend.html');
  symlinkSync(victim, page);
  writeFileAtomic(page, '<html></html>');
  expect(readFileSync(victim, 'utf8')).toBe('keep me');
  expect(lstatSync(page).isSymbolicLink()).toBe(false);
  expect(readFileSync(page, 'utf8')).toBe('<html></html>');
});
