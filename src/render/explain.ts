// `ladder explain` as text: where one UNet call's time goes, by op kind (a Markdown table, shared by
// the command's output, report.md and report.html), and the lines that say what is left over.
import { type ExplainSummary, ISA_LABELS, ISAS, KIND_LABELS, LEFTOVER_LIMIT_PCT } from '../results/explain.ts';
import type { RunFile } from '../results/run-file.ts';
import { mdText } from './markdown.ts';

const ms = (s: number) => (s * 1e3).toFixed(s < 0.01 ? 3 : 1);
const dash = (x: number | undefined, f: (v: number) => string) => (x === undefined ? '–' : f(x));

/** The kernels' ISA classes by time: "AVX-512 93% · not named 7%". */
function isaCell(pct: ExplainSummary['groups'][number]['isa_pct']): string {
  const parts = ISAS.filter((i) => (pct[i] ?? 0) >= 0.5).map((i) => `${ISA_LABELS[i]} ${pct[i]!.toFixed(0)}%`);
  return parts.length ? parts.join(' · ') : '–';
}

/** The group table of one profiled call. */
export function explainTable(s: ExplainSummary): string {
  const rows = s.groups.map(
    (g) =>
      `| ${KIND_LABELS[g.kind]} | ${g.share_pct.toFixed(1)}% | ${ms(g.time_s)} | ${g.calls} | ${dash(g.flops, (f) => (f / 1e9).toFixed(3))} | ${dash(g.gflops, (x) => x.toFixed(1))} | ${mdText(g.dtype ?? '–')} | ${dash(g.pct_of_peak, (x) => `${x.toFixed(1)}%${x > 100 ? ' (above the peak: a FLOP count or the peak is off)' : ''}`)} | ${isaCell(g.isa_pct)} | ${mdText(g.top_kernels.map((k) => k.name).join(', ') || '–')} |`,
  );
  return [
    '| op kind | share of call | time (ms) | ops | GFLOP | GFLOP/s | dtype | % of peak | kernels by ISA (time) | top kernels |',
    `|${'---|'.repeat(10)}`,
    ...rows,
    `| **sum of groups** | ${((100 * s.groups_s) / s.call_s).toFixed(1)}% | ${ms(s.groups_s)} |  |  |  |  |  |  |  |`,
    `| **leftover** | ${s.leftover_pct.toFixed(1)}% | ${ms(s.leftover_s)} |  |  |  |  |  |  | in no op the profiler saw |`,
    `| **measured call** | 100% | ${ms(s.call_s)} |  |  |  |  |  |  | profiled call's wall time; ${ms(s.unprofiled_call_s)} ms without the profiler |`,
  ].join('\n');
}

/** What the table rests on: the profiler, the leftover and what it is, the peaks, the notes. */
export function explainLines(s: ExplainSummary): string[] {
  const peaks = Object.entries(s.peaks_gflops)
    .map(([d, g]) => `${d} ${g.toFixed(0)}`)
    .join(', ');
  const overhead = s.call_s - s.unprofiled_call_s;
  return [
    `Profiler: ${s.profiler}; the call computes in ${s.dtype}.`,
    `The groups add up to ${((100 * s.groups_s) / s.call_s).toFixed(1)}% of the measured call (${s.adds_up ? 'within' : 'NOT within'} ${LEFTOVER_LIMIT_PCT}%): the ${s.leftover_pct.toFixed(1)}% left over ran in no op the profiler timed (the framework and Python between ops, the profiler's own bookkeeping). The profiler made the call ${overhead >= 0 ? `${ms(overhead)} ms slower` : `${ms(-overhead)} ms faster (noise)`} than without it.`,
    peaks
      ? `% of peak: the time the group's FLOPs take at the measured matrix-product peak of the dtype each ran in (GFLOP/s: ${peaks}) over the time they took.`
      : '% of peak: no measured peak for these dtypes.',
    ...s.notes,
  ];
}

/** report.md's section: each rung run with --explain. */
export function renderExplainSections(run: RunFile, summaries: Map<string, ExplainSummary>): string[] {
  if (!summaries.size) return [];
  return [
    '## Where one UNet call goes (--explain)',
    '',
    ...run.rungs.flatMap((r) => {
      const s = summaries.get(r.id);
      return s
        ? [`### ${mdText(r.id)}`, '', explainTable(s), '', ...explainLines(s).flatMap((l) => [mdText(l), ''])]
        : [];
    }),
  ];
}
