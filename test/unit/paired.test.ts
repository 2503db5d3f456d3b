import { describe, expect, it } from 'vitest';
import { workerVerdict } from '../../src/commands/overhead.ts';
import { attributeChanges, judge } from '../../src/nightly/judge.ts';
import { renderRounds } from '../../src/render/report.ts';
import {
  hodgesLehmann,
  pairedRatio,
  precise,
  roundsNeeded,
  signedRankCounts,
  whyImprecise,
} from '../../src/results/paired.ts';
import type { RunFile } from '../../src/results/run-file.ts';
import { addSpeedups } from '../../src/results/speedups.ts';
import { oneOffSeconds, roundOrder } from '../../src/run/rounds.ts';

const rounds = (medians: number[]) => medians.map((m, round) => ({ round, samples_s: [m * 0.99, m, m * 1.01] }));

describe('the signed-rank distribution and the Hodges-Lehmann interval', () => {
  it('counts every sign pattern once, symmetric', () => {
    for (const n of [1, 2, 5, 10]) {
      const c = signedRankCounts(n);
      expect(c.reduce((a, b) => a + b, 0)).toBe(2 ** n);
      expect(c).toEqual([...c].reverse());
      expect(c).toHaveLength((n * (n + 1)) / 2 + 1);
    }
    expect(signedRankCounts(3)).toEqual([1, 1, 1, 2, 1, 1, 1]);
  });

  it('says what few rounds really cover, and reaches 95% from 6 rounds on', () => {
    expect(hodgesLehmann([0.1, 0.2, 0.3]).level).toBeCloseTo(0.75, 12);
    expect(hodgesLehmann([1, 2, 3, 4, 5]).level).toBeCloseTo(0.9375, 12);
    const six = hodgesLehmann([1, 2, 3, 4, 5, 6]);
    expect(six.level).toBeCloseTo(1 - 2 / 64, 12);
    expect(six.ci).toEqual([1, 6]); // k = 1: the extreme Walsh averages
    expect(six.estimate).toBe(3.5);
    expect(hodgesLehmann([0.5]).level).toBe(0);
  });

  it('narrows inwards as rounds accrue, and stays distribution-free (one wild round barely moves it)', () => {
    const calm = Array.from({ length: 20 }, (_, i) => Math.sin(i) * 0.01);
    const wild = [...calm.slice(0, 19), 5];
    const a = hodgesLehmann(calm);
    const b = hodgesLehmann(wild);
    expect(a.level).toBeGreaterThanOrEqual(0.95);
    expect(Math.abs(b.estimate - a.estimate)).toBeLessThan(0.01);
    expect(b.ci[1]).toBeLessThan(0.05);
  });
});

describe('paired ratios', () => {
  it('pairs rounds, not passes: a drift shared by both rungs cancels', () => {
    // Both rungs slow 1.6x over the rounds; the rung is always 2x the reference's speed.
    const drift = [1, 1.1, 1.2, 1.35, 1.5, 1.6];
    const p = pairedRatio('ref', rounds(drift.map((d) => 2 * d)), rounds(drift.map((d) => d)))!;
    expect(p.ratio).toBeCloseTo(2, 12);
    expect(p.ci[0]).toBeCloseTo(2, 12);
    expect(p.rounds).toBe(6);
    expect(p.sequential).toBeCloseTo(2, 12);
    expect(precise(p, 0.01)).toBe(true);
  });

  it('uses only the rounds both rungs ran in', () => {
    const ref = rounds([1, 1, 1]);
    const rung = [
      { round: 1, samples_s: [0.5] },
      { round: 7, samples_s: [0.1] },
    ];
    expect(pairedRatio('ref', ref, rung)!.per_round).toEqual([2]);
    expect(pairedRatio('ref', ref, [{ round: 9, samples_s: [1] }])).toBeUndefined();
  });

  it('is not precise below 6 rounds, however narrow', () => {
    const p = pairedRatio('ref', rounds([2, 2, 2, 2, 2]), rounds([1, 1, 1, 1, 1]))!;
    expect(p.half_width).toBe(0);
    expect(precise(p, 0.05)).toBe(false);
    expect(whyImprecise(p)).toMatch(/5 rounds cannot give a 95% interval/);
    expect(roundsNeeded(p, 0.05)).toBe(6);
  });

  it('tells a bimodal level from noise', () => {
    const twoLevels = [2, 2.02, 1.99, 2.01, 1.4, 1.41, 1.39, 1.4];
    const bimodal = pairedRatio('ref', rounds(twoLevels), rounds(twoLevels.map(() => 1)))!;
    expect(whyImprecise(bimodal)).toMatch(/^bimodal: its rounds read 1\.40x \(4\) or 2\.00x \(4\)/);
    const spread = [1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.2, 2.3];
    const noisy = pairedRatio('ref', rounds(spread), rounds(spread.map(() => 1)))!;
    expect(whyImprecise(noisy)).toMatch(/^noisy: its rounds range 1\.60-2\.30x/);
    expect(roundsNeeded(noisy, noisy.half_width / 2)).toBe(4 * 8); // half the width: 4 times the rounds
  });
});

describe('round orders', () => {
  const ids = ['ref', 'a', 'b', 'c'];
  it('keeps the ladder order in round 0, and is the same for the same seed', () => {
    expect(roundOrder(ids, 0, 1, 'ref')).toEqual(ids);
    expect(roundOrder(ids, 3, 42, 'ref')).toEqual(roundOrder(ids, 3, 42, 'ref'));
    const seeds = new Set([1, 2, 3, 4, 5, 6].map((s) => roundOrder(ids, 1, s, 'ref').join()));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('puts the reference in every slot once per block of rounds, never first in round 1', () => {
    for (const seed of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      const orders = [1, 2, 3, 4].map((r) => roundOrder(ids, r, seed, 'ref'));
      for (const o of orders) expect([...o].sort()).toEqual([...ids].sort());
      expect(new Set(orders.map((o) => o.indexOf('ref'))).size).toBe(4);
      expect(orders[0]!.indexOf('ref')).not.toBe(0);
    }
    // Two rungs, two rounds: first, then last.
    expect(roundOrder(['ref', 'a'], 1, 5, 'ref')).toEqual(['a', 'ref']);
  });
});

describe("a round's one-off costs (what the time-left estimate leaves out)", () => {
  const at = (round: number, started: string) => ({ round, started });
  const rung = (backend: string, timings: Record<string, number>, rounds: { round: number; started: string }[]) =>
    ({ id: backend, config: { backend }, timings, rounds }) as unknown as RunFile['rungs'][number];
  const since = Date.parse('2026-12-05T10:00:00Z');
  const run = {
    rungs: [
      // export_s includes quantize_s and calibration_s in openvino: counted once.
      rung('openvino', { export_s: 1024, quantize_s: 963, calibration_s: 100, compile_s: 6 }, [
        at(0, '2026-12-05T10:01:00Z'),
        at(1, '2026-12-05T10:30:00Z'),
      ]),
      // onnxruntime's quantize_dynamic is apart from its export.
      rung('onnxruntime', { export_s: 32, quantize_s: 40 }, [at(0, '2026-12-05T10:20:00Z')]),
      rung('sdcpp', { convert_s: 50 }, [at(0, '2026-12-05T10:25:00Z')]),
      // torch.compile compiles in every process: not one-off.
      rung('torch-compile', { compile_s: 40 }, [at(0, '2026-12-05T10:26:00Z')]),
      // Kept from an interrupted run: its export was spent before this run started.
      rung('openvino', { export_s: 70 }, [at(0, '2026-12-05T09:00:00Z')]),
    ],
  };

  it("counts each backend's one-off load timings, in the round of the rung's first process, since the run started", () => {
    expect(oneOffSeconds(run, 0, since)).toBe(1024 + 32 + 40 + 50);
    expect(oneOffSeconds(run, 1, since)).toBe(0);
    expect(oneOffSeconds(run, 0, Date.parse('2026-12-05T08:00:00Z'))).toBe(1024 + 32 + 40 + 50 + 70);
  });
});

// A night of `rounds` interleaved rounds: per round, each rung's median is level x its own time.
function night(times: Record<string, number>, levels: number[]): RunFile {
  const run: RunFile = {
    schema_version: 3,
    tool: { name: 'ladder', version: '0' },
    command: '',
    started: '',
    finished: 'x',
    ladder: { name: 'l', file: 'l.yaml', baseline: 'ref', figures: {} },
    machine: { hostname: '', cpu_model: '', logical_cpus: 2, isa: {}, memory_bytes: 0, os: '', kernel: '', node: '' },
    rounds: {
      seed: 0,
      asked: { rounds: levels.length },
      done: levels.map((_, round) => ({ round, order: [], started: '' })),
    },
    rungs: Object.entries(times).map(([id, t]) => {
      const rr = levels.map((l, round) => ({ round, samples_s: [0.99, 1, 1.01].map((f) => f * l * t) }));
      return {
        id,
        status: 'ok' as const,
        config: { model: 'm', scenario: { steps: 2 } },
        samples_s: rr.flatMap((x) => x.samples_s),
        stats: { median_s: t } as never,
        rounds: rr.map((x) => ({ ...x, position: 0, pid: 0, started: '', median_s: 0, wall_s: 0, peak_rss_bytes: 0 })),
      };
    }),
  };
  addSpeedups(run);
  return run;
}

describe('nights of interleaved rounds', () => {
  const flat = [1, 1.02, 0.98, 1.01, 0.99, 1];
  const history = [1, 2, 3, 4].map(() => night({ ref: 2, a: 1 }, flat));

  it('a machine 1.4x slower all night: the reference regressed by its own time, the rung not by its ratio', () => {
    const v = judge(
      night(
        { ref: 2, a: 1 },
        flat.map((x) => 1.4 * x),
      ),
      history,
    );
    expect(v.find((x) => x.id === 'ref')).toMatchObject({ verdict: 'regressed', by: 'time' });
    const a = v.find((x) => x.id === 'a')!;
    expect(a).toMatchObject({ verdict: 'unchanged', by: 'ratio' });
    expect(a.detail).toMatch(/by its ratio to ref .*own time regressed 1\.40x/);
  });

  it('a rung 1.3x slower on a drifting machine: regressed by its ratio, whatever the drift did to its time', () => {
    const drifting = [1, 1.1, 1.2, 1.3, 1.45, 1.6];
    const now = night({ ref: 2, a: 1.3 }, drifting);
    now.machine_probe = { backend: 'sleep', moved: { fp32: -0.4 } }; // its own time would be "unstable"
    const v = attributeChanges(judge(now, history), now, [], () => []);
    expect(v.find((x) => x.id === 'a')).toMatchObject({ verdict: 'regressed', by: 'ratio' });
    expect(v.find((x) => x.id === 'a')!.ratio).toBeCloseTo(1.3, 2);
    expect(v.find((x) => x.id === 'ref')!.verdict).toBe('unstable');
  });
});

describe("an interleaved run's rounds in report.md", () => {
  it("names each round's order once escaped, as Markdown shows the ids (sdcpp-q8_0)", () => {
    const run = night({ ref: 2, 'sdcpp-q8_0': 1 }, [1, 1]);
    run.rounds!.done = [
      { round: 0, order: ['ref', 'sdcpp-q8_0'], started: '' },
      { round: 1, order: ['sdcpp-q8_0', 'ref'], started: '' },
    ];
    const md = renderRounds(run).join('\n');
    expect(md).toContain('ref → sdcpp-q8\\_0; sdcpp-q8\\_0 → ref.');
    expect(md).not.toContain('\\\\');
  });
});

describe("the worker's cost against its 1% target (ladder overhead)", () => {
  // Worker median over plain median per round, as `ladder overhead` pairs them.
  const cost = (perRound: number[]) =>
    pairedRatio(
      'worker',
      perRound.map((x, round) => ({ round, samples_s: [x] })),
      perRound.map((_, round) => ({ round, samples_s: [1] })),
    )!;

  it('is judged by its interval, not by its estimate alone', () => {
    expect(workerVerdict(cost([1.001, 0.998, 1.003, 1.0, 0.999, 1.002, 1.004, 0.997]))).toMatch(/^within target/);
    expect(workerVerdict(cost([1.05, 1.06, 1.048, 1.055, 1.052, 1.061, 1.049, 1.057]))).toMatch(/^OVER TARGET/);
    // An estimate under 1% whose interval reaches past it is not called within target.
    const wide = workerVerdict(cost([0.995, 1.015, 1.005, 1.02, 0.998, 1.012, 1.0, 1.008]));
    expect(wide).toMatch(/^not resolved: the 9\d% interval spans \+1% \(about \d+ rounds would tell\)/);
    // A machine whose processes differ by 15% gets no promise of thousands of rounds.
    const noisy = workerVerdict(cost([0.82, 1.01, 1.01, 0.96, 1.01, 1.04, 1.01, 1.0, 0.84, 1.07]));
    expect(noisy).toMatch(/\(this machine moves too much between processes to tell in fewer than 200 rounds\)$/);
  });
});
