import { describe, expect, it } from 'vitest';
import { renderMarkdown, renderText } from '../../src/render/compare.ts';
import { compareRuns, type LoadedRun } from '../../src/results/compare.ts';
import type { RunFile, RungResult } from '../../src/results/run-file.ts';
import { erfc, mannWhitneyU, minPValue, normalSf, uCounts, verdictOf } from '../../src/results/significance.ts';

// Reference values: scipy 1.17.1, scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method=...).
describe('Mann-Whitney U', () => {
  it('exact: completely separated samples, 5 vs 5: p = 2 / C(10, 5)', () => {
    const r = mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    expect(r).toEqual({ u: 0, p: 2 / 252, method: 'exact' }); // scipy: 0.0, 0.007936507936507936
    expect(mannWhitneyU([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]).p).toBe(2 / 252);
  });
  it('exact: the scipy documentation example (males vs females)', () => {
    // U1 = 17 of 20 pairs; P(U >= 17) = P(U <= 3) = (1 + 1 + 2 + 3) / C(9, 4) = 7/126, p = 14/126 (scipy: 0.1111111111111111)
    const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    expect(r.u).toBe(17);
    expect(r.method).toBe('exact');
    expect(r.p).toBeCloseTo(0.1111111111111111, 14);
  });
  it('exact: interleaved 10 vs 10 (scipy 0.6842105263157896) and 10 vs 12 (0.00895698728516066)', () => {
    const a = [1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6, 2.8];
    const b = [1.1, 1.3, 1.5, 1.7, 1.9, 2.05, 2.3, 2.5, 3.0, 3.1];
    expect(mannWhitneyU(a, b)).toMatchObject({ u: 44, method: 'exact' });
    expect(mannWhitneyU(a, b).p).toBeCloseTo(0.6842105263157896, 14);
    const c = mannWhitneyU(
      [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5],
      [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    );
    expect(c).toMatchObject({ u: 21, method: 'exact' });
    expect(c.p).toBeCloseTo(0.00895698728516066, 14);
  });
  it('exact: 2 vs 2 can never be significant (p = 2/6 at best)', () => {
    expect(mannWhitneyU([1, 2], [3, 4]).p).toBeCloseTo(1 / 3, 14);
    expect(minPValue(2, 2)).toBeCloseTo(1 / 3, 14);
    expect(minPValue(3, 3)).toBeCloseTo(0.1, 14);
    expect(minPValue(4, 4)).toBeCloseTo(2 / 70, 14);
    expect(minPValue(10, 10)).toBeCloseTo(2 / 184756, 18);
  });
  it('the exact distribution counts every arrangement', () => {
    // m=2, n=2: U = 0 1 2 2 3 4 over the C(4,2) = 6 orderings
    expect(uCounts(2, 2)).toEqual([1, 1, 2, 1, 1]);
    expect(uCounts(3, 2)).toEqual([1, 1, 2, 2, 2, 1, 1]);
    const c = uCounts(20, 20);
    expect(c.reduce((a, b) => a + b, 0)).toBe(137846528820); // C(40, 20)
    expect(c[0]).toBe(1);
    expect(c[1]).toBe(1);
    expect(c[2]).toBe(2);
    expect(c[150]).toBe(c[250]); // symmetric
  });
  it('normal approximation with tie correction (scipy asymptotic 0.04343396310576019)', () => {
    // pooled ranks: 1 -> 1; 2,2 -> 2.5; 3,3,3 -> 5; 4,4 -> 7.5; 5 -> 9; 6 -> 10; 7,7 -> 11.5; 8 -> 13
    // R1 = 1 + 2.5 + 2.5 + 5 + 7.5 + 9 = 27.5, U1 = 27.5 - 21 = 6.5; ties (2,3,2,2): sum t^3 - t = 6 + 24 + 6 + 6 = 42
    // sd = sqrt(6*7/12 * (14 - 42/156)) = 3.4670; z = (42 - 6.5 - 21 - 0.5) / 3.4670 = 2.0190 -> p = 2 sf(z)
    const r = mannWhitneyU([1, 2, 2, 3, 4, 5], [3, 3, 4, 6, 7, 7, 8]);
    expect(r).toMatchObject({ u: 6.5, method: 'normal' });
    expect(r.p).toBeCloseTo(0.04343396310576019, 12);
  });
  it('normal approximation: small sample with ties (scipy 0.11014892418594699)', () => {
    const r = mannWhitneyU([1, 1, 2], [2, 3, 3]);
    expect(r).toMatchObject({ u: 0.5, method: 'normal' });
    expect(r.p).toBeCloseTo(0.11014892418594699, 12);
  });
  it('normal approximation above 20 per sample, no ties (scipy asymptotic 0.002035157807278379)', () => {
    const x = Array.from({ length: 25 }, (_, i) => i);
    const r = mannWhitneyU(
      x,
      x.map((v) => v + 7.5),
    );
    expect(r).toMatchObject({ u: 153, method: 'normal' });
    expect(r.p).toBeCloseTo(0.002035157807278379, 12);
  });
  it('the scipy example, forced to the normal approximation (scipy asymptotic 0.11134688653314041)', () => {
    // mu = 10, sd = sqrt(20/12 * 10) = 4.0825, z = (17 - 10 - 0.5) / 4.0825 = 1.5922
    const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12], 'normal');
    expect(r).toMatchObject({ u: 17, method: 'normal' });
    expect(r.p).toBeCloseTo(0.11134688653314041, 12);
  });
  it('every value tied: no evidence, p = 1', () => {
    expect(mannWhitneyU([2, 2, 2], [2, 2, 2]).p).toBe(1);
  });
  it('erfc matches libm (Python math.erfc)', () => {
    expect(erfc(0.5)).toBeCloseTo(0.4795001221869535, 15);
    expect(erfc(1)).toBeCloseTo(0.15729920705028513, 15);
    expect(erfc(2) / 0.004677734981047265).toBeCloseTo(1, 13);
    expect(erfc(3) / 2.2090496998585438e-5).toBeCloseTo(1, 12);
    expect(erfc(5) / 1.5374597944280351e-12).toBeCloseTo(1, 12);
    expect(erfc(8) / 1.1224297172982928e-29).toBeCloseTo(1, 12);
    expect(erfc(-1)).toBeCloseTo(2 - 0.15729920705028513, 15);
    expect(normalSf(1.959963984540054)).toBeCloseTo(0.025, 14);
  });
});

describe('verdict', () => {
  const o = { alpha: 0.05, factor: 0.1 };
  it('needs both significance and size', () => {
    expect(verdictOf(2, 0.001, 10, 10, o)).toEqual({ verdict: 'slower' });
    expect(verdictOf(0.5, 0.001, 10, 10, o)).toEqual({ verdict: 'faster' });
    expect(verdictOf(2, 0.2, 10, 10, o)).toEqual({ verdict: 'unchanged' });
    expect(verdictOf(1.05, 0.001, 10, 10, o)).toMatchObject({
      verdict: 'unchanged',
      note: 'significant (p=0.001) but within the ±10% factor',
    });
  });
  it('uses the factor both ways: slower above 1+f, faster below 1/(1+f)', () => {
    expect(verdictOf(1.1001, 0.01, 10, 10, o).verdict).toBe('slower');
    expect(verdictOf(1.1, 0.01, 10, 10, o).verdict).toBe('unchanged');
    expect(verdictOf(1 / 1.1 - 1e-6, 0.01, 10, 10, o).verdict).toBe('faster');
    expect(verdictOf(0.91, 0.01, 10, 10, o).verdict).toBe('unchanged'); // 0.91 > 1/1.1 = 0.909
    expect(verdictOf(1.3, 0.01, 10, 10, { alpha: 0.05, factor: 0.5 }).verdict).toBe('unchanged');
    expect(verdictOf(1.3, 0.01, 10, 10, { alpha: 0.005, factor: 0.1 }).verdict).toBe('unchanged');
  });
  it('says when the sample sizes cannot reach significance instead of calling it unchanged', () => {
    expect(verdictOf(2, 1 / 3, 2, 2, o)).toEqual({
      verdict: 'inconclusive',
      note: 'too few samples for significance: n=2,2 (B/A 2.000x is beyond the ±10% factor: measure more passes)',
    });
    expect(verdictOf(1.01, 1, 3, 3, o)).toEqual({
      verdict: 'inconclusive',
      note: 'too few samples for significance: n=3,3',
    });
    expect(verdictOf(2, 2 / 70, 4, 4, o).verdict).toBe('slower'); // 4 vs 4 can: 2/70 = 0.029
  });
});

const machine = {
  hostname: 'h',
  cpu_model: 'Xeon 8480+',
  logical_cpus: 2,
  isa: {},
  memory_bytes: 2 ** 33,
  os: 'Linux',
  kernel: '6',
  node: 'v20',
};
const scenario = {
  prompt: 'p',
  steps: 20,
  warmup_steps: 10,
  passes: 10,
  height: 512,
  width: 512,
  guidance_scale: 7.5,
  seed: 0,
  output_type: 'np',
};
const rung = (id: string, samples: number[], extra: Partial<RungResult> = {}): RungResult => ({
  id,
  status: 'ok',
  config: { backend: 'torch', model: 'synthetic:sd15', scenario },
  samples_s: samples,
  ...extra,
});
const run = (rungs: RungResult[], m: Partial<typeof machine> = {}): LoadedRun => ({
  file: 'x/run.json',
  run: {
    schema_version: 1,
    tool: { name: 'ladder', version: '0.1.0' },
    command: 'ladder',
    started: 't',
    machine: { ...machine, ...m },
    rungs,
  } as RunFile,
});
const ten = (base: number) => Array.from({ length: 10 }, (_, i) => base * (1 + (i - 4.5) / 200));

describe('compareRuns', () => {
  it('compares common ok rungs and lists the rest', () => {
    const a = run([rung('baseline', ten(10)), rung('jemalloc', ten(5)), rung('dpm', ten(2)), rung('ipex', ten(3))]);
    const b = run([
      rung('baseline', ten(20)),
      rung('jemalloc', ten(5.001)),
      rung('ipex', [], { status: 'failed', error: 'toggle\ndid not take effect' }),
      rung('ov', ten(1)),
    ]);
    const c = compareRuns(a, b);
    expect(c.rows.map((r) => [r.id, r.verdict, r.label])).toEqual([
      ['baseline', 'slower', 'slower'],
      ['jemalloc', 'unchanged', 'unchanged'],
      ['dpm', 'only-a', 'only in A'],
      ['ipex', 'not-ok', 'failed in B'],
      ['ov', 'only-b', 'only in B'],
    ]);
    expect(c.rows[0]!.ratio).toBeCloseTo(2, 12);
    expect(c.rows[0]!.test!.p).toBeCloseTo(2 / 184756, 15);
    expect(c.rows[3]!.notes).toEqual(['B: toggle did not take effect']);
    expect(c.warnings).toEqual([]);
  });
  it('marks unfinished rungs and flags wide spreads in the notes', () => {
    const c = compareRuns(
      run([rung('x', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), rung('y', [1])]),
      run([rung('x', ten(5)), rung('y', [], { status: 'running' })]),
    );
    expect(c.rows[0]!.notes).toEqual(['A: spread too wide to trust: 95% CI of the median is ±64% (n=10)']);
    expect(c.rows[1]!.label).toBe('unfinished in B');
  });
  it('warns about another machine and another scenario, but not about the number of passes', () => {
    const other = { ...scenario, steps: 5, passes: 3 };
    const a = run([rung('a', ten(1)), rung('b', ten(1))]);
    const b = run(
      [
        rung('a', ten(1), { config: { scenario: other, model: 'synthetic:sd15' } }),
        rung('b', ten(1), { config: { scenario: { ...scenario, passes: 3 }, model: 'synthetic:sd15' } }),
      ],
      { logical_cpus: 4 },
    );
    expect(compareRuns(a, b).warnings).toEqual([
      "the runs come from different machines (A: Xeon 8480+, 2 logical CPUs; B: Xeon 8480+, 4 logical CPUs): differences may be the machine's, not the code's",
      'scenarios differ (a): steps 20 vs 5',
    ]);
  });
  it('renders an aligned table and a Markdown table', () => {
    const c = compareRuns(
      run([rung('baseline', ten(10)), rung('jemalloc', ten(5))]),
      run([rung('baseline', ten(20)), rung('jemalloc', ten(5))]),
    );
    const text = renderText(c).split('\n');
    const head = text.find((l) => l.startsWith('rung'))!;
    const row = text.find((l) => l.startsWith('baseline'))!;
    expect(head).toMatch(/^rung\s+median A \(s\)\s+median B \(s\)\s+B\/A\s+p\s+n A,B\s+vs baseline A → B\s+verdict$/);
    expect(row).toMatch(/^baseline\s+10\.000\s+20\.000\s+2\.000x\s+1\.1e-5\s+10,10\s+–\s+slower$/);
    expect(row.indexOf('20.000') + 6).toBe(head.indexOf('median B (s)') + 'median B (s)'.length); // right-aligned
    const md = renderMarkdown(c);
    expect(md).toContain('| rung | median A (s) | median B (s) | B/A | p | n A,B | vs baseline A → B | verdict |');
    expect(md).toContain('|---|---:|---:|---:|---:|---:|---:|---|');
    expect(md).toContain('| baseline | 10.000 | 20.000 | 2.000x | 1.1e-5 | 10,10 | – | **slower** |');
    expect(md).toContain('| jemalloc | 5.000 | 5.000 | 1.000x | 1.000 | 10,10 | – | unchanged |');
  });
});
