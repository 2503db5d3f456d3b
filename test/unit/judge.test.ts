import { describe, expect, it } from 'vitest';
import { judge, threshold, versionChanges } from '../../src/nightly/judge.ts';
import type { RunFile } from '../../src/results/run-file.ts';

// A deterministic spread of ten passes around a median (±2%).
const passes = (median: number) => [0.98, 0.985, 0.99, 0.995, 1, 1, 1.005, 1.01, 1.015, 1.02].map((f) => f * median);
const night = (medians: Record<string, number>, extra: Partial<RunFile> = {}): RunFile => ({
  schema_version: 1,
  tool: { name: 'ladder', version: '0' },
  command: '',
  started: '',
  finished: 'x',
  machine: { hostname: '', cpu_model: '', logical_cpus: 2, isa: {}, memory_bytes: 0, os: '', kernel: '', node: '' },
  rungs: Object.entries(medians).map(([id, m]) => ({
    id,
    status: 'ok',
    config: { model: 'm', scenario: { steps: 2 } },
    samples_s: passes(m),
  })),
  ...extra,
});

describe('judge', () => {
  it('flags a real step, not the unchanged rungs', () => {
    const history = [1, 2, 3, 4].map(() => night({ a: 1, b: 2 }));
    const v = judge(night({ a: 1.01, b: 2.6 }), history);
    expect(v.map((x) => x.verdict)).toEqual(['unchanged', 'regressed']);
    expect(v[1]!.ratio).toBeCloseTo(1.3, 1);
  });

  it('does not alarm on one noisy night in the history', () => {
    const history = [night({ a: 1 }), night({ a: 1.5 }), night({ a: 1 }), night({ a: 1 })];
    expect(judge(night({ a: 1.02 }), history)[0]!.verdict).toBe('unchanged');
  });

  it('catches a slow drift that no single night shows', () => {
    const history = [1, 1.03, 1.06, 1.09, 1.12].map((m) => night({ a: m }));
    const v = judge(night({ a: 1.15 }), history)[0]!; // within 10% of the pooled window, 13% above its oldest nights
    expect(v.verdict).toBe('regressed');
    expect(v.detail).toMatch(/slow drift/);
  });

  it('says new, failed, improved, and compares only the same scenario and model', () => {
    const other = night({ a: 5 });
    other.rungs[0]!.config = { model: 'm', scenario: { steps: 20 } };
    expect(judge(night({ a: 1 }), [other])[0]!.verdict).toBe('new');
    const failed = night({ a: 1 });
    failed.rungs[0]!.status = 'failed';
    expect(judge(failed, [night({ a: 1 })])[0]!.verdict).toBe('failed');
    expect(judge(night({ a: 0.5 }), [night({ a: 1 }), night({ a: 1 })])[0]!.verdict).toBe('improved');
  });

  it('names the packages whose version changed', () => {
    const a = night({}, { environments: { torch: { key: 'k', packages: { torch: '2.13.0', numpy: '2.4.6' } } } });
    const b = night(
      {},
      { environments: { torch: { key: 'k2', packages: { torch: '2.14.0', numpy: '2.4.6', rich: '1' } } } },
    );
    expect(versionChanges(a, b)).toEqual([
      { env: 'torch', package: 'torch', from: '2.13.0', to: '2.14.0' },
      { env: 'torch', package: 'rich', from: undefined, to: '1' },
    ]);
  });
});

describe('threshold', () => {
  it('asks twice the factor without enough nights, and grows with the spread between nights', () => {
    expect(threshold([1, 1.1], 0.1)).toBe(0.2);
    expect(threshold([1, 1, 1, 1], 0.1)).toBe(0.2);
    expect(threshold([1, 1, 1, 1, 1], 0.1)).toBe(0.1);
    expect(threshold([1, 1.1, 0.9, 1, 1.05], 0.1)).toBeCloseTo(3 * 1.4826 * 0.05, 9);
  });

  it('keeps a night as noisy as the history from raising an alarm', () => {
    const history = [1, 1.1, 0.92, 1.05, 0.98].map((m) => night({ a: m })); // robust sigma ~7%
    expect(judge(night({ a: 1.15 }), history)[0]!.verdict).toBe('unchanged');
  });
});
