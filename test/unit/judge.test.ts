import { describe, expect, it } from 'vitest';
import {
  attributeChanges,
  DEFAULT_JUDGE,
  judge,
  threshold,
  verdictLine,
  versionChanges,
} from '../../src/nightly/judge.ts';
import type { RunFile } from '../../src/results/run-file.ts';
import { rng as mulberry32 } from '../../src/run/rounds.ts';

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

  it('catches a drift that no single night shows', () => {
    const history = [1, 1, 1, 1, 1, 1, 1, 1.04, 1.07, 1.09].map((m) => night({ a: m }));
    const o = { ...DEFAULT_JUDGE, window: 6 };
    const v = judge(night({ a: 1.11 }), history, o)[0]!; // within 10% of the 6-night window, 11% above its oldest half
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
    expect(judge(night({ a: 0.5 }), [night({ a: 1 }), night({ a: 1 }), night({ a: 1 })])[0]!.verdict).toBe('improved');
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
    // Nights 5% apart: few of them say little about that spread, so the threshold is wide; more narrow it.
    const alternating = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? 1.05 : 1));
    expect(threshold(alternating(5), 0.1)).toBeGreaterThan(0.3);
    expect(threshold(alternating(30), 0.1)).toBeLessThan(0.2);
    expect(threshold(alternating(30), 0.1)).toBeGreaterThan(0.1);
    // A step in the history (successive differences) does not widen it the way a noisy history would.
    const step = [...Array(15).fill(1), ...Array(15).fill(1.3)];
    expect(threshold(step, 0.1)).toBeLessThan(
      threshold(
        alternating(30).map((m) => m ** 4),
        0.1,
      ),
    );
  });

  it('keeps a night as noisy as the history from raising an alarm', () => {
    const history = [1, 1.1, 0.92, 1.05, 0.98].map((m) => night({ a: m })); // robust sigma ~7%
    expect(judge(night({ a: 1.15 }), history)[0]!.verdict).toBe('unchanged');
  });
});

describe('nights that cannot be judged', () => {
  it('calls a change against fewer earlier nights than --min-nights insufficient, never regressed', () => {
    const v = judge(night({ a: 2 }), [night({ a: 1 }), night({ a: 1 })])[0]!;
    expect(v.verdict).toBe('insufficient');
    expect(v.detail).toMatch(/would be regressed 2\.00x, but 2 earlier night\(s\) cannot tell/);
    expect(
      judge(night({ a: 2 }), [night({ a: 1 }), night({ a: 1 })], { ...DEFAULT_JUDGE, minNights: 2 })[0]!.verdict,
    ).toBe('regressed');
  });

  it('calls a change on a night whose machine moved more than the threshold unstable', () => {
    const history = [1, 2, 3, 4].map(() => night({ a: 1 }));
    const moved = night({ a: 1.6 }, { machine_probe: { backend: 'sleep', moved: { fp32: -0.3, bf16: -0.02 } } });
    const v = judge(moved, history)[0]!;
    expect(v.verdict).toBe('unstable');
    expect(v.detail).toMatch(/would be regressed 1\.60x, but the machine itself moved 30% during the run/);
    const steady = night({ a: 1.6 }, { machine_probe: { backend: 'sleep', moved: { fp32: -0.01 } } });
    expect(judge(steady, history)[0]!.verdict).toBe('regressed');
  });
});

// A statistical model of a noisy machine's nights, for the false-alarm rate alone (the nightly tests of
// test/mock/ run real workers on the sleep backend instead): each process lands at its own level
// (lognormal, `processNoise`), each pass varies around it (`passNoise`). Seeded: the figures are exact.
function scriptedNight(rand: () => number, level: number, processNoise: number, passNoise: number): RunFile {
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const proc = Math.exp(processNoise * gauss());
  const run = night({});
  run.rungs = ['a', 'b'].map((id) => ({
    id,
    status: 'ok' as const,
    config: { model: 'm', scenario: { steps: 2 } },
    samples_s: Array.from({ length: 10 }, () => level * proc * Math.exp(passNoise * gauss())),
  }));
  return run;
}

describe('false alarms on code that did not change', () => {
  it('are rare over 30 unchanged nights, and a 1.3x step is still caught (200 seeded histories)', () => {
    let verdicts = 0;
    let alarms = 0;
    let caught = 0;
    const seeds = 200;
    for (let seed = 1; seed <= seeds; seed++) {
      const rand = mulberry32(seed);
      const nights: RunFile[] = [];
      for (let i = 0; i < 30; i++) {
        const n = scriptedNight(rand, 1, 0.05, 0.02);
        for (const v of judge(n, nights)) {
          verdicts++;
          if (v.verdict === 'regressed' || v.verdict === 'improved') alarms++;
        }
        nights.push(n);
      }
      const step = judge(scriptedNight(rand, 1.3, 0.05, 0.02), nights);
      caught += step.filter((v) => v.verdict === 'regressed').length;
    }
    // The figure the nightly judgement promises on a machine whose processes land 5% apart.
    console.info(
      `false alarms: ${alarms} of ${verdicts} verdicts on unchanged nights; 1.3x steps caught: ${caught} of ${2 * seeds}`,
    );
    expect(alarms / verdicts).toBeLessThan(0.005); // 35 of 12,000 (0.29%) with these seeds
    expect(caught / (2 * seeds)).toBeGreaterThan(0.9); // 379 of 400 with these seeds
  });
});

describe('a verdict beside version changes', () => {
  const run = night({ ov: 1, pt: 1, other: 1 });
  for (const r of run.rungs) (r.config as { env?: string }).env = r.id === 'pt' ? 'torch' : 'openvino';
  const changes = [
    { env: 'openvino', package: 'tbb', from: '2022.1', to: '2022.2' },
    { env: 'openvino', package: 'openvino', from: '2026.4.1', to: '2026.5.0' },
    { env: 'torch', package: 'diffusers', from: '0.42.1', to: '0.43.0' },
  ];
  const verdicts = attributeChanges(
    [
      { id: 'ov', verdict: 'regressed', ratio: 1.31, p: 0.001 },
      { id: 'pt', verdict: 'unchanged', ratio: 1.0, p: 0.5 },
      { id: 'other', verdict: 'improved', ratio: 0.8, p: 0.001 },
    ],
    run,
    changes,
    (env) => (env === 'openvino' ? ['openvino', 'nncf'] : ['diffusers']),
  );

  it("names its own environment's changes, top-level packages first, and only for a moved rung", () => {
    expect(verdicts[0]!.versions).toEqual(['openvino 2026.4.1 -> 2026.5.0', 'tbb 2022.1 -> 2022.2']);
    expect(verdicts[1]!.versions).toBeUndefined(); // unchanged: no suspect to name
    expect(verdicts[2]!.versions).toHaveLength(2);
  });

  it('reads as one line', () => {
    expect(verdictLine(verdicts[0]!, 1)).toBe('ov regressed 1.31x; openvino 2026.4.1 -> 2026.5.0 and 1 more');
    expect(verdictLine(verdicts[1]!)).toBe('pt unchanged 1.00x');
  });
});
