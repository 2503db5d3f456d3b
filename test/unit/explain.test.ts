// `ladder explain` as data and text: ops grouped by kind, the groups against the call and the peaks,
// kernels by ISA class, and the section a run's reports get for a rung run with --explain.
import { describe, expect, it } from 'vitest';
import { RunError } from '../../src/errors.ts';
import { explainTable } from '../../src/render/explain.ts';
import { renderHtml } from '../../src/render/html.ts';
import { renderReport } from '../../src/render/report.ts';
import { explainSpec } from '../../src/render/run-charts.ts';
import {
  type ExplainProfile,
  explainSummary,
  neededPeaks,
  OP_KINDS,
  parseExplainProfile,
} from '../../src/results/explain.ts';
import { parseRunFile } from '../../src/results/run-file.ts';
import { fixtureRun } from '../fixtures/run.ts';

/** A call of 100 ms: 90 ms in ops, two convolution ops in bf16 (one without its own dtype), a matmul in int8. */
function profile(over: Partial<ExplainProfile> = {}): ExplainProfile {
  return parseExplainProfile({
    profiler: 'test',
    dtype: 'bf16',
    call_s: 0.1,
    unprofiled_call_s: 0.095,
    unprofiled_calls_s: [0.095],
    ops: [
      { name: 'Convolution', kind: 'convolution', calls: 3, time_s: 0.04, flops: 4e9, dtype: 'bf16' },
      { name: 'aten::conv2d', kind: 'convolution', calls: 1, time_s: 0.01, flops: 1e9 },
      { name: 'MatMul', kind: 'matmul', calls: 2, time_s: 0.02, flops: 1e9, dtype: 'int8' },
      { name: 'Eltwise', kind: 'elementwise', calls: 5, time_s: 0.015 },
      { name: 'Reorder', kind: 'layout', calls: 4, time_s: 0.005 },
    ],
    kernels: [
      { name: 'brgconv_avx512_amx_bf16', kind: 'convolution', isa: 'amx', calls: 3, time_s: 0.03 },
      { name: 'ref_any_bf16', kind: 'convolution', isa: 'reference', calls: 1, time_s: 0.01 },
      { name: 'MKL SGEMM', kind: 'matmul', isa: 'other', calls: 2 },
      { name: 'jit_avx2', kind: 'elementwise', isa: 'avx2', calls: 5, time_s: 0.015 },
    ],
    notes: ['a note'],
    ...over,
  });
}

describe('explainSummary', () => {
  it('groups ops by kind, every kind in order, and sums them against the measured call', () => {
    const s = explainSummary(profile(), { bf16: 500, int8: 1000 });
    expect(s.groups.map((g) => g.kind)).toEqual([...OP_KINDS]);
    const by = Object.fromEntries(s.groups.map((g) => [g.kind, g]));
    expect(by.convolution!.time_s).toBeCloseTo(0.05);
    expect(by.convolution!.calls).toBe(4);
    expect(by.convolution!.share_pct).toBeCloseTo(50);
    expect(by.attention!.time_s).toBe(0);
    expect(s.groups_s).toBeCloseTo(0.09);
    expect(s.leftover_s).toBeCloseTo(0.01);
    expect(s.leftover_pct).toBeCloseTo(10);
    expect(s.adds_up).toBe(true);
  });

  it('places each FLOP against the peak of the dtype it ran in', () => {
    const s = explainSummary(profile(), { bf16: 500, int8: 1000 });
    const by = Object.fromEntries(s.groups.map((g) => [g.kind, g]));
    // 5 GFLOP (the op without a dtype is in the call's, bf16) in 50 ms: 100 GFLOP/s, 20% of 500.
    expect(by.convolution!.flops).toBeCloseTo(5e9);
    expect(by.convolution!.gflops).toBeCloseTo(100);
    expect(by.convolution!.dtype).toBe('bf16');
    expect(by.convolution!.pct_of_peak).toBeCloseTo(20);
    // 1 GFLOP int8 in 20 ms against 1000 GOP/s: 1 ms at peak, 5%.
    expect(by.matmul!.dtype).toBe('int8');
    expect(by.matmul!.pct_of_peak).toBeCloseTo(5);
    expect(by.elementwise!.flops).toBeUndefined();
    expect(by.elementwise!.pct_of_peak).toBeUndefined();
    // No peak for a dtype: a rate, no share.
    const noPeak = explainSummary(profile(), { bf16: 500 });
    expect(noPeak.groups.find((g) => g.kind === 'matmul')!.gflops).toBeCloseTo(50);
    expect(noPeak.groups.find((g) => g.kind === 'matmul')!.pct_of_peak).toBeUndefined();
  });

  it("counts FLOPs given per kind (PyTorch's FlopCounterMode) in the call's dtype", () => {
    const p = profile({
      ops: [{ name: 'aten::conv2d', kind: 'convolution', calls: 1, time_s: 0.09 }],
      flops_by_kind: { convolution: 9e9 },
    });
    const conv = explainSummary(p, { bf16: 1000 }).groups[0]!;
    expect(conv.flops).toBe(9e9);
    expect(conv.pct_of_peak).toBeCloseTo(10);
    expect(neededPeaks(p)).toEqual(['bf16']);
    expect(neededPeaks(profile())).toEqual(['bf16', 'int8']);
  });

  it('classes kernel time by ISA, and lists the top kernels by time', () => {
    const s = explainSummary(profile());
    const conv = s.groups[0]!;
    expect(conv.isa_pct).toEqual({ amx: 75, reference: 25 });
    expect(conv.top_kernels.map((k) => k.name)).toEqual(['brgconv_avx512_amx_bf16', 'ref_any_bf16']);
    // Kernels without a time (MKL's) are listed, not shared out.
    const mm = s.groups[1]!;
    expect(mm.isa_pct).toEqual({});
    expect(mm.top_kernels.map((k) => k.name)).toEqual(['MKL SGEMM']);
  });

  it('says when the groups do not add up to the call within 10%', () => {
    const s = explainSummary(profile({ call_s: 0.2 }));
    expect(s.leftover_pct).toBeCloseTo(55);
    expect(s.adds_up).toBe(false);
    // More in ops than the call (overlapping ops) is off too.
    expect(explainSummary(profile({ call_s: 0.08 })).adds_up).toBe(false);
  });

  it('refuses a worker result that is not a profile, in one line', () => {
    expect(() => parseExplainProfile({ ...profile(), call_s: 0 })).toThrow(/^explain: not a profile: call_s/);
    // A worker fault, not the user's input: a RunError (exit 1) that keeps zod's issues as its cause.
    const err = (() => {
      try {
        parseExplainProfile({ ...profile(), call_s: 0 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RunError);
    expect((err as RunError).cause).toBeDefined();
    expect(() =>
      parseExplainProfile({ ...profile(), ops: [{ name: 'x', kind: 'fusion', calls: 1, time_s: 1 }] }),
    ).toThrow(/ops\.0\.kind/);
  });
});

describe('explain in text and in the reports', () => {
  it('prints a row per kind, then the sum, the leftover and the measured call', () => {
    const table = explainTable(explainSummary(profile(), { bf16: 500, int8: 1000 })).split('\n');
    expect(table).toHaveLength(2 + OP_KINDS.length + 3);
    expect(table[2]).toMatch(
      /^\| convolution \| 50\.0% \| 50\.0 \| 4 \| 5\.000 \| 100\.0 \| bf16 \| 20\.0% \| AMX 75% · reference 25% \| brgconv/,
    );
    expect(table.at(-3)).toMatch(/^\| \*\*sum of groups\*\* \| 90\.0% \|/);
    expect(table.at(-2)).toMatch(/^\| \*\*leftover\*\* \| 10\.0% \|/);
    expect(table.at(-1)).toMatch(/^\| \*\*measured call\*\* \| 100% \| 100\.0 \|/);
  });

  it('gives a rung run with --explain a section in report.md and report.html, and a chart, from run.json', () => {
    const run = fixtureRun();
    const rung = run.rungs.find((r) => r.status === 'ok')!;
    rung.explain = profile();
    // Through run.json: what a report reads back.
    const read = parseRunFile(JSON.parse(JSON.stringify(run)));
    const md = renderReport(read);
    expect(md).toContain('## Where one UNet call goes (--explain)');
    expect(md).toContain(`### ${rung.id}`);
    expect(md).toMatch(/\| \*\*leftover\*\* \| 10\.0% \|/);
    const html = renderHtml(read, '<svg></svg>');
    expect(html).toContain(`id="explain-${rung.id}"`);
    const spec = JSON.stringify(explainSpec(read));
    expect(spec).toContain('explain_kind_bars');
    expect(spec).toContain(`${rung.id}, convolution: 50.0% of the call`);
    // A run without --explain has no section, and a chart saying why.
    expect(renderReport(fixtureRun())).not.toContain('--explain)');
    expect(JSON.stringify(explainSpec(fixtureRun()))).toContain('no rung of this run was profiled');
  });

  it('refuses a run file whose explain is broken', () => {
    const run = JSON.parse(JSON.stringify(fixtureRun()));
    run.rungs[0].explain = { ...profile(), call_s: 'slow' };
    expect(() => parseRunFile(run)).toThrow(/rungs\.0\.explain\.call_s/);
  });
});
