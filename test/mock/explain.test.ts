// `ladder explain` and `--explain` through the real CLI, worker and socket, on the sleep backend's
// scripted profile: the whole path (job, grouping, peaks, table, JSON, run.json and the reports)
// without a model and without timing.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OP_KINDS } from '../../src/results/explain.ts';
import { ladder, MOCK, tmpDir } from '../helpers.ts';

const LADDER = `
name: explain-mock
rungs:
  - id: sleep-fp32
    backend: sleep
    options: { pass_s: 0.1 }
  - id: sleep-bf16
    extends: sleep-fp32
    options: { dtype: bf16 }
  - id: sleep-no-profiler
    extends: sleep-fp32
    options: { explain: false }
`;
const dir = tmpDir();
const file = path.join(dir, 'explain.yaml');
writeFileSync(file, LADDER);
// MOCK without its --set: the rungs are the ladder's.
const SLEEP = [...MOCK.filter((x) => x !== '--set' && x !== 'backend=sleep'), '--ladder', file];

describe('ladder explain (sleep backend)', () => {
  it('prints a row per op kind, the leftover and the measured call', async () => {
    const r = await ladder(['explain', 'sleep-fp32', ...SLEEP]);
    expect(r.exitCode, r.all).toBe(0);
    for (const row of [
      'convolution',
      'matmul/linear',
      'attention',
      'normalization',
      'elementwise',
      'layout and reorders',
      'other',
    ])
      expect(r.stdout).toMatch(new RegExp(`^\\| ${row} \\|`, 'm'));
    // 0.1 s a pass, 80% in the UNet over 2 steps: a 40 ms call, 97% of it in ops.
    expect(r.stdout).toMatch(/^\| \*\*sum of groups\*\* \| 97\.0% \| 38\.8 \|/m);
    expect(r.stdout).toMatch(/^\| \*\*leftover\*\* \| 3\.0% \|/m);
    expect(r.stdout).toMatch(/^\| \*\*measured call\*\* \| 100% \| 40\.0 \|/m);
    expect(r.stdout).toMatch(/AVX-512 100% \| brgconv_avx512_FP32/);
    expect(r.stdout).toMatch(/within 10%/);
    expect(r.stdout).toMatch(/Peaks: fp32 probed now \(short\)/);
  });

  it('prints one JSON document with --json: the profile, the groups, the peaks and where they came from', async () => {
    const r = await ladder(['explain', 'sleep-bf16', ...SLEEP, '--json']);
    expect(r.exitCode, r.all).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ rung: 'sleep-bf16', backend: 'sleep', model: 'none' });
    // The sleep probe's scripted answer, for bf16 and for the fp32 its attention kernel names.
    expect(doc.peaks_gflops).toEqual({ bf16: 1000, fp32: 1000 });
    expect(doc.peaks_source).toEqual({ bf16: 'probed', fp32: 'probed' });
    expect(doc.summary.groups.map((g: { kind: string }) => g.kind)).toEqual([...OP_KINDS]);
    expect(doc.summary.adds_up).toBe(true);
    expect(doc.summary.leftover_pct).toBeCloseTo(3);
    const conv = doc.summary.groups[0];
    expect(conv).toMatchObject({ dtype: 'bf16', isa_pct: { amx: 100 } });
    expect(conv.pct_of_peak).toBeGreaterThan(0);
    expect(doc.profile.kernels.map((k: { isa: string }) => k.isa).sort()).toEqual(
      ['amx', 'amx', 'avx2', 'avx512', 'avx512', 'other', 'reference'].sort(),
    );
    expect(r.stderr).toMatch(/profiling one UNet call/);
  });

  it('says in one line when the backend cannot profile a UNet call', async () => {
    const r = await ladder(['explain', 'sleep-no-profiler', ...SLEEP]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr.trim()).toMatch(/^ladder: error: rung sleep-no-profiler: sleep cannot profile a UNet call: /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [['nosuch'], /unknown rung 'nosuch'/],
    [['sleep-fp32', '--steps', '0'], /steps must be an integer from 1 to 1000 \(got 0\)/],
    [['sleep-fp32', '--bogus'], /unknown option --bogus for explain/],
  ])('refuses bad input %j with one line and exit 2, before any worker', async (args, pattern) => {
    const r = await ladder(['explain', ...SLEEP, ...args]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.all).not.toMatch(/worker pid/);
  });
});

describe('ladder run --explain (sleep backend)', () => {
  it("puts the profile in run.json and its section in the reports, after the rung's passes", async () => {
    const out = tmpDir();
    const r = await ladder(['run', 'sleep-fp32', ...SLEEP, '--passes', '1', '--explain', '--out', out]);
    expect(r.exitCode, r.all).toBe(0);
    const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
    const rung = run.rungs[0];
    expect(rung.status).toBe('ok');
    expect(rung.samples_s).toHaveLength(1);
    expect(rung.explain.profiler).toBe('scripted (sleep backend)');
    expect(rung.explain.ops.map((o: { kind: string }) => o.kind).sort()).toEqual([...OP_KINDS].sort());
    const md = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).toContain('## Where one UNet call goes (--explain)');
    expect(md).toMatch(/^\| \*\*leftover\*\* \| 3\.0% \|/m);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('id="explain-sleep-fp32"');
    expect(existsSync(path.join(out, 'explain.svg'))).toBe(true);
    expect(r.all.indexOf('pass 1/1')).toBeLessThan(r.all.indexOf('--explain: profiling one UNet call'));
  });

  it('keeps the figure of a rung whose backend cannot profile, with a warning', async () => {
    const out = tmpDir();
    const r = await ladder(['run', 'sleep-no-profiler', ...SLEEP, '--passes', '1', '--explain', '--out', out]);
    expect(r.exitCode, r.all).toBe(0);
    const rung = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).rungs[0];
    expect(rung.status).toBe('ok');
    expect(rung.explain).toBeUndefined();
    expect(rung.warnings).toContainEqual(expect.stringMatching(/^--explain: .*sleep cannot profile a UNet call: /));
  });
});
