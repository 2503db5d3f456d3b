// `ladder explain` as data: one UNet call profiled inside the worker (python/ladder_worker/explain.py
// decides each op's kind and each kernel's ISA class), grouped here by kind, with each group's share
// of the call, its FLOPs and its rate against the measured peak of the dtype it ran in. Pure, so a
// report recomputes it from run.json with the run's own peaks.
import { z } from 'zod';
import { RunError } from '../errors.ts';
import { runPeaks } from './roofline.ts';
import type { RunFile } from './run-file.ts';

/** The op kinds, in the order they are shown (the worker reads them from protocol/explain.json). */
export const OP_KINDS = [
  'convolution',
  'matmul',
  'attention',
  'normalization',
  'elementwise',
  'layout',
  'other',
] as const;
export type OpKind = (typeof OP_KINDS)[number];
/** How each kind is named in tables and charts. */
export const KIND_LABELS: Record<OpKind, string> = {
  convolution: 'convolution',
  matmul: 'matmul/linear',
  attention: 'attention',
  normalization: 'normalization',
  elementwise: 'elementwise',
  layout: 'layout and reorders',
  other: 'other',
};
/** The ISA classes of a kernel (protocol/explain.json too). */
export const ISAS = ['amx', 'avx512', 'avx2', 'reference', 'other'] as const;
export type Isa = (typeof ISAS)[number];
export const ISA_LABELS: Record<Isa, string> = {
  amx: 'AMX',
  avx512: 'AVX-512',
  avx2: 'AVX2',
  reference: 'reference',
  other: 'not named',
};

/** The groups must add up to the measured call within this share of it. */
export const LEFTOVER_LIMIT_PCT = 10;

const finite = z.number().refine(Number.isFinite, 'is not a finite number');
const kind = z.enum(OP_KINDS);
const opSchema = z.looseObject({
  name: z.string(),
  kind,
  calls: z.number().int().nonnegative(),
  time_s: finite.nonnegative(),
  flops: finite.nonnegative().optional(),
  dtype: z.string().optional(),
});
const kernelSchema = z.looseObject({
  name: z.string(),
  kind,
  isa: z.enum(ISAS),
  calls: z.number().int().nonnegative(),
  time_s: finite.nonnegative().optional(),
});

/** What the worker's explain job returns (the explain message of protocol/wire.json). */
export const explainProfileSchema = z.looseObject({
  profiler: z.string(),
  /** The dtype the call computes in (ops that do not say their own). */
  dtype: z.string(),
  /** What the groups add up to: the profiled call's wall time (OpenVINO: the mean of its profiled calls; ONNX Runtime: the session's own run). */
  call_s: finite.positive(),
  /** Median wall time of calls without the profiler (the profiler's own cost is the difference). */
  unprofiled_call_s: finite.positive(),
  unprofiled_calls_s: z.array(finite),
  inputs: z.record(z.string(), z.array(z.number())).default({}),
  ops: z.array(opSchema),
  kernels: z.array(kernelSchema),
  /** FLOPs per kind where the profiler counts them per kind (PyTorch's FlopCounterMode), not per op. */
  flops_by_kind: z.partialRecord(kind, finite.nonnegative()).optional(),
  /** What the profiler cannot see, and how its figures were taken. */
  notes: z.array(z.string()).default([]),
});
export type ExplainProfile = z.infer<typeof explainProfileSchema>;
export type ExplainKernel = z.infer<typeof kernelSchema>;

export interface ExplainGroup {
  kind: OpKind;
  time_s: number;
  /** Share of the measured call (%). */
  share_pct: number;
  calls: number;
  flops?: number;
  gflops?: number;
  /** The dtype most of its timed FLOP-bearing ops ran in. */
  dtype?: string;
  /** Time at the peak of each op's dtype over the time taken (%); absent without FLOPs or a peak. */
  pct_of_peak?: number;
  /** Kernel time by ISA class (%), of the kernels whose time is known. */
  isa_pct: Partial<Record<Isa, number>>;
  top_kernels: ExplainKernel[];
}

export interface ExplainSummary {
  profiler: string;
  dtype: string;
  call_s: number;
  unprofiled_call_s: number;
  groups_s: number;
  /** call_s - groups_s: time in no op the profiler saw (framework and Python between ops, profiler cost). */
  leftover_s: number;
  leftover_pct: number;
  adds_up: boolean;
  groups: ExplainGroup[];
  peaks_gflops: Record<string, number>;
  notes: string[];
}

/** The worker's profile, or the one-line error of a result that is not one (a worker fault: RunError). */
export function parseExplainProfile(data: unknown): ExplainProfile {
  const parsed = explainProfileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RunError(`explain: not a profile: ${issue.path.join('.')}: ${issue.message}`, {
      cause: parsed.error,
      stage: 'bench',
    });
  }
  return parsed.data;
}

/** The profile's ops grouped by kind (every kind, in order: empty groups at 0), against `peaks` (GFLOP/s per dtype). */
export function explainSummary(p: ExplainProfile, peaks: Record<string, number> = {}): ExplainSummary {
  const groups = OP_KINDS.map((k): ExplainGroup => {
    const ops = p.ops.filter((o) => o.kind === k);
    const time = ops.reduce((s, o) => s + o.time_s, 0);
    const byKind = p.flops_by_kind?.[k];
    // FLOPs of each dtype: per op where the op has them, else the kind's count in the call's dtype.
    const flops = new Map<string, number>();
    for (const o of ops) if (o.flops) flops.set(o.dtype ?? p.dtype, (flops.get(o.dtype ?? p.dtype) ?? 0) + o.flops);
    if (byKind) flops.set(p.dtype, (flops.get(p.dtype) ?? 0) + byKind);
    const total = [...flops.values()].reduce((s, x) => s + x, 0);
    const dtype = [...flops.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    const atPeak = [...flops.entries()].map(([d, f]) => (peaks[d] ? f / (peaks[d] * 1e9) : Number.NaN));
    const ideal = atPeak.reduce((s, x) => s + x, 0);
    const kernels = p.kernels.filter((x) => x.kind === k).sort((a, b) => (b.time_s ?? 0) - (a.time_s ?? 0));
    const timed = kernels.reduce((s, x) => s + (x.time_s ?? 0), 0);
    const isa: Partial<Record<Isa, number>> = {};
    for (const x of kernels) if (timed > 0 && x.time_s) isa[x.isa] = (isa[x.isa] ?? 0) + (100 * x.time_s) / timed;
    return {
      kind: k,
      time_s: time,
      share_pct: (100 * time) / p.call_s,
      calls: ops.reduce((s, o) => s + o.calls, 0),
      flops: total > 0 ? total : undefined,
      gflops: total > 0 && time > 0 ? total / 1e9 / time : undefined,
      dtype,
      pct_of_peak: total > 0 && time > 0 && Number.isFinite(ideal) ? (100 * ideal) / time : undefined,
      isa_pct: isa,
      top_kernels: kernels.slice(0, 3),
    };
  });
  const sum = groups.reduce((s, g) => s + g.time_s, 0);
  const leftover = p.call_s - sum;
  const leftoverPct = (100 * leftover) / p.call_s;
  return {
    profiler: p.profiler,
    dtype: p.dtype,
    call_s: p.call_s,
    unprofiled_call_s: p.unprofiled_call_s,
    groups_s: sum,
    leftover_s: leftover,
    leftover_pct: leftoverPct,
    adds_up: Math.abs(leftoverPct) <= LEFTOVER_LIMIT_PCT,
    groups,
    peaks_gflops: peaks,
    notes: p.notes,
  };
}

/** The dtypes whose peak the profile's rates need. */
export function neededPeaks(p: ExplainProfile): string[] {
  const dtypes = new Set<string>();
  for (const o of p.ops) if (o.flops) dtypes.add(o.dtype ?? p.dtype);
  if (p.flops_by_kind && Object.values(p.flops_by_kind).some((f) => f)) dtypes.add(p.dtype);
  return [...dtypes].filter((d) => ['fp32', 'bf16', 'int8'].includes(d)).sort();
}

/** Each rung of a run profiled with --explain, summarized against the run's peaks. */
export function runExplains(run: RunFile): Map<string, ExplainSummary> {
  const peaks = runPeaks(run);
  return new Map(run.rungs.flatMap((r) => (r.explain ? [[r.id, explainSummary(r.explain, peaks)] as const] : [])));
}
