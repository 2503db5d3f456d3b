// report.md: the ladder side by side with the article's figures.

import { runExplains } from '../results/explain.ts';
import { PAIRED_LEVEL, type PairedRatio } from '../results/paired.ts';
import { runPeaks } from '../results/roofline.ts';
import type { RunFile, RungResult } from '../results/run-file.ts';
import { bestLines } from './best.ts';
import { renderExplainSections } from './explain.ts';
import { mdCode, mdText } from './markdown.ts';

const num = (x: number | undefined, digits = 2) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const times = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)}x`);

/** The article's speedups for a rung, from its published figures, against the same reference rung. */
function articleSpeedups(run: RunFile, r: RungResult): { base?: number; prev?: number } {
  const fig = (id?: string) => (id === undefined ? undefined : run.ladder?.figures[id]?.published_s);
  const mine = fig(r.id);
  const baseId = run.ladder?.baseline;
  if (mine === undefined) return {};
  const base = fig(baseId);
  const prev = fig(r.compare_to ?? baseId);
  return {
    base: base !== undefined ? base / mine : undefined,
    prev: prev !== undefined && r.id !== baseId ? prev / mine : undefined,
  };
}

/**
 * The rungs table. Ids are escaped like any text from a run (a run.json from elsewhere may hold any
 * id); report.html parses these cells back and undoes the escapes (html.ts).
 */
export function renderTable(run: RunFile): string {
  const head =
    '| rung | status | median (s) | spread min–max (s) | n | vs baseline | vs previous | PSNR vs fp32 (dB) | article seed (s) | article published (s) | article vs baseline | article vs previous |';
  const rows = run.rungs.map((r) => {
    const a = articleSpeedups(run, r);
    const s = r.stats;
    const status = r.status === 'ok' || r.status === 'skipped' ? r.status : `**${r.status}**`;
    const prev = r.compare_to ? ` (vs ${mdText(r.compare_to)})` : '';
    const n = (r.processes ?? 1) > 1 ? `${s?.n ?? 0} (${r.processes} processes)` : `${s?.n ?? 0}`;
    return `| ${mdText(r.id)} | ${status} | ${num(s?.median_s, 3)} | ${s ? `${num(s.min_s, 3)}–${num(s.max_s, 3)}` : '–'} | ${n} | ${times(r.speedup_vs_baseline)}${interval(r.paired?.vs_baseline)} | ${times(r.speedup_vs_previous)}${interval(r.paired?.vs_previous)}${r.speedup_vs_previous !== undefined ? prev : ''} | ${psnr(r)} | ${num(r.article?.seed_s, 1)} | ${num(r.article?.published_s, 2)} | ${times(a.base)} | ${times(a.prev)} |`;
  });
  return [head, `|${'---|'.repeat(12)}`, ...rows].join('\n');
}

/** A paired ratio's interval, and its coverage when below 95% (too few rounds). */
function interval(p?: PairedRatio): string {
  if (!p || p.rounds < 2) return '';
  const level = p.level >= PAIRED_LEVEL ? '' : ` at ${(100 * p.level).toFixed(0)}%`;
  return ` [${p.ci[0].toFixed(2)}–${p.ci[1].toFixed(2)}${level}]`;
}

const sparkChars = '▁▂▃▄▅▆▇█';
/** Values as a one-line bar chart (lowest ▁, highest █). */
export function sparkline(xs: number[]): string {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return xs.map((x) => sparkChars[hi > lo ? Math.round(((x - lo) / (hi - lo)) * 7) : 3]).join('');
}

/** An interleaved run's rounds: its heading, its notes (plain text), its table, or undefined for one round. */
export function roundsParts(
  run: RunFile,
): { heading: string; notes: string[]; table: string; imprecise: string[] } | undefined {
  const rd = run.rounds;
  if (!rd || rd.done.length < 2) return undefined;
  const rows = run.rungs
    .filter((r) => r.rounds?.length)
    .map((r) => {
      const meds = r.rounds!.map((x) => x.median_s);
      const p = r.paired?.vs_baseline;
      return `| ${mdText(r.id)} | ${meds.map((m) => m.toFixed(3)).join(' ')} | ${sparkline(meds)} | ${p ? times(p.sequential) : '–'} | ${p ? `${times(p.ratio)}${interval(p)}` : '–'} | ${r.rounds!.length} |`;
    });
  const probes = rd.done.filter((d) => d.probe);
  const probeNote = probes.length
    ? [
        `Machine probe per round (GFLOP/s): ${Object.keys(probes[0]!.probe!)
          .map(
            (d) =>
              `${d} ${[run.machine_probe?.start?.gflops[d], ...probes.map((x) => x.probe![d])]
                .filter((x): x is number => x !== undefined)
                .map((x) => x.toFixed(0))
                .join(' → ')}`,
          )
          .join('; ')}.`,
      ]
    : [];
  const stopped = {
    rounds: 'as many rounds as asked',
    precision: `every ratio within ±${(100 * (rd.asked.precision ?? 0)).toFixed(1)}%`,
    'max-rounds': '--max-rounds reached',
    budget: '--budget spent',
    deadline: 'the time budget spent',
  }[rd.stopped ?? 'rounds'];
  return {
    heading: `Rounds (${rd.done.length}, interleaved; stopped: ${stopped})`,
    notes: [
      `Each round ran every rung once, in a fresh worker, in its own order (round 1 in the ladder's order, the others shuffled with seed ${rd.seed}): ${rd.done.map((d) => d.order.join(' → ')).join('; ')}. A ratio is taken within each round and combined over the rounds (Hodges-Lehmann, with a signed-rank interval); "sequential" is round 1's ratio alone, as measuring each rung once, one after the other, would have given it.${rd.peak_rss_bytes ? ` Peak RSS of the workers alive at once: ${(rd.peak_rss_bytes / 2 ** 30).toFixed(2)} GiB.` : ''}`,
      ...probeNote,
    ],
    table: rows.length
      ? [
          '| rung | median per round (s), round 1 → last | level | sequential (round 1) vs baseline | paired vs baseline | rounds |',
          `|${'---|'.repeat(6)}`,
          ...rows,
        ].join('\n')
      : '',
    imprecise: (rd.imprecise ?? []).map((x) => `${x.id} vs ${x.reference}: ${x.why}`),
  };
}

/**
 * An interleaved run: each rung's level in each round (the drift its ratios were paired against),
 * the machine probe per round, and each ratio measured once in order (round 1 alone, what a run of one
 * round would have said) beside its paired value.
 */
export function renderRounds(run: RunFile): string[] {
  const parts = roundsParts(run);
  if (!parts) return [];
  return [
    `## ${parts.heading}`,
    '',
    ...parts.notes.flatMap((n) => [mdText(n), '']),
    ...(parts.table ? [parts.table, ''] : []),
    ...(parts.imprecise.length
      ? ['Ratios that did not reach the precision asked:', '', ...parts.imprecise.map((x) => `- ${mdText(x)}`), '']
      : []),
  ];
}

function psnr(r: RungResult): string {
  const q = r.quality;
  if (!q) return '–';
  const value = q.psnr_db === null ? 'identical' : q.psnr_db.toFixed(1);
  return q.flagged ? `**${value} (drifted)**` : value;
}

function rf(r: RungResult): string {
  const x = r.roofline;
  if (!x) return '–';
  const pct = x.pct_of_peak !== undefined ? `${x.pct_of_peak.toFixed(0)}%` : x.above_peak ? 'above peak' : '–';
  return `${x.gflops.toFixed(0)} (${pct} ${mdText(x.dtype)}) · ${num(x.unet_gflops, 0)} (${num(x.unet_pct_of_peak, 0)}%)`;
}

/** Where the time of a pass goes, medians over the passes. */
export function renderBreakdown(run: RunFile): string {
  const rows = run.rungs
    .filter((r) => r.breakdown)
    .map((r) => {
      const b = r.breakdown!;
      return `| ${mdText(r.id)} | ${rf(r)} | ${num(b.text_encoding_s, 3)} | ${num(b.unet_s, 3)} | ${num(b.unet_step_s, 3)} × ${b.unet_calls_per_pass} | ${num(b.vae_decode_s, 3)} | ${num(b.safety_checker_s, 3)} | ${num(b.rest_s, 3)} (${num(b.rest_pct, 1)}%) | ${num(r.timings?.load_s, 1)} | ${num((r.timings?.peak_rss_bytes ?? Number.NaN) / 2 ** 30, 1)} |`;
    });
  if (!rows.length) return '';
  return [
    '| rung | GFLOP/s (% of peak) · UNet | text encoding (s) | UNet (s) | UNet step (s) × calls | VAE decode (s) | safety checker (s) | rest (s) | load (s) | peak RSS (GiB) |',
    `|${'---|'.repeat(10)}`,
    ...rows,
  ].join('\n');
}

/**
 * Latency and throughput side by side, once a rung of the run ran several instances at once. Each
 * rung's images/s is over the common window of its instances (one instance: over its passes).
 */
export function renderThroughput(run: RunFile): string {
  if (!run.rungs.some((r) => (r.instances?.length ?? 1) > 1)) return '';
  const base = run.rungs.find((r) => r.id === run.ladder?.baseline)?.throughput;
  const rows = run.rungs
    .filter((r) => r.status === 'ok' && r.throughput)
    .map((r) => {
      const t = r.throughput!;
      const cores = r.instances?.map((i) => i.cores.join(',')).join(' / ') ?? '–';
      const vs = base && r.id !== run.ladder?.baseline ? times(t.images_per_s / base.images_per_s) : '–';
      return `| ${mdText(r.id)} | ${t.instances} | ${cores} | ${num(r.stats?.median_s, 3)} | ${num(t.images_per_s, 4)} | ${vs} | ${num(t.window_s, 1)} | ${num(t.images, 2)} |`;
    });
  return [
    '| rung | instances | cores of each | latency median (s) | images/s | images/s vs baseline | common window (s) | images in it |',
    `|${'---|'.repeat(8)}`,
    ...rows,
  ].join('\n');
}

/** How much the machine itself moved between the start and the end of the run. */
export function machineLine(run: RunFile): string[] {
  const p = run.machine_probe;
  if (!p?.start || !p.end || !p.moved) return [];
  const moved = Object.entries(p.moved)
    .map(
      ([d, x]) =>
        `${d} ${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}% (${p.start!.gflops[d]!.toFixed(0)} → ${p.end!.gflops[d]!.toFixed(0)} GFLOP/s)`,
    )
    .join(', ');
  return [
    `Machine during the run (matrix-product probe at the start and the end): ${moved}. Figures of a run whose machine moved more than its differences say little about them.`,
    '',
  ];
}

/** The roofline's work and peaks, and the controller's own cost while measuring. */
export function overheadLine(run: RunFile): string[] {
  const o = run.rungs.map((r) => r.overhead).filter((x): x is Record<string, number> => !!x);
  if (!o.length) return [];
  const maxCpu = Math.max(...o.map((x) => x.controller_cpu_pct_of_passes ?? 0));
  const maxGap = Math.max(...o.map((x) => x.bench_job_gap_ms ?? 0));
  const rl = run.roofline;
  const g = (x?: number) => `${((x ?? Number.NaN) / 1e9).toFixed(1)}`;
  const peak = rl
    ? [
        `Roofline: work per image (GFLOP, attention included): text encoding ${g(rl.flops.text_encoding)}, UNet ${g(rl.flops.unet_per_call)} per call (calls per pass depend on the scheduler: PNDM makes steps + 1), VAE decode ${g(rl.flops.vae_decode)}, safety checker ${g(rl.flops.safety_checker)}. Measured matrix-product peak: ${Object.entries(
          runPeaks(run),
        )
          .map(
            ([k, v]) =>
              `${mdText(k)} ${v.toFixed(0)} GFLOP/s${v > (rl.peaks_gflops[k] ?? v) ? ` (this run's machine probe; the peak probe read ${rl.peaks_gflops[k]!.toFixed(0)})` : ''}`,
          )
          .join(', ')}.`,
        '',
      ]
    : [];
  return [
    ...peak,
    `Controller while measuring: at most ${maxCpu.toFixed(3)}% CPU of the timed passes; job time gap controller vs worker at most ${maxGap.toFixed(1)} ms.`,
    '',
  ];
}

export function renderReport(run: RunFile): string {
  const m = run.machine;
  const sc = run.rungs[0]?.config as { scenario?: Record<string, unknown>; model?: string } | undefined;
  const failures = run.rungs
    .filter((r) => r.status === 'failed')
    .map((r) => `- **${mdText(r.id)}**: ${mdText(r.error ?? 'no reason recorded')}`);
  const skipped = run.rungs
    .filter((r) => r.status === 'skipped')
    .map((r) => `- **${mdText(r.id)}**: ${mdText(r.skipped ?? 'no reason recorded')}`);
  const warnings = run.rungs
    .filter((r) => r.warnings?.length)
    .map((r) => `- **${mdText(r.id)}**: ${mdText(r.warnings!.join('; '))}`);
  return [
    `# ladder run: ${mdText(run.ladder?.name ?? 'ad hoc')}`,
    '',
    `Machine: ${mdText(m.cpu_model)}, ${m.logical_cpus} logical CPUs, ${(m.memory_bytes / 2 ** 30).toFixed(0)} GiB, ${mdText(m.os)}; ISA: ${
      mdText(
        Object.entries(m.isa)
          .filter(([, v]) => v)
          .map(([k]) => k)
          .join(' '),
      ) || 'none listed'
    }`,
    `Model: ${mdText(sc?.model ?? '?')}; scenario: ${mdText(JSON.stringify(sc?.scenario ?? {}))}`,
    `Command: ${mdCode(run.command)}; started ${mdText(run.started)}${run.finished ? `, finished ${mdText(run.finished)}` : ' (unfinished)'}`,
    '',
    renderTable(run),
    '',
    ...bestLines(run).flatMap((line) => [mdText(line), '']),
    ...(renderThroughput(run)
      ? [
          '## Latency and throughput (instances run at once, each pinned to its own cores)',
          '',
          renderThroughput(run),
          '',
        ]
      : []),
    ...renderRounds(run),
    ...(renderBreakdown(run) ? ['## Where the time goes (median per pass)', '', renderBreakdown(run), ''] : []),
    ...overheadLine(run),
    ...renderExplainSections(run, runExplains(run)),
    ...machineLine(run),
    "The article measured a 32-core Sapphire Rapids at 512x512, 20 steps; its speedups are computed from its published figures. PSNR compares each rung's final image with an fp32 PyTorch image of the same scheduler, seed and initial latents.",
    ...(failures.length ? ['', '## Failed rungs', '', ...failures] : []),
    ...(skipped.length ? ['', '## Skipped rungs (cannot run on this machine; not failures)', '', ...skipped] : []),
    ...(warnings.length ? ['', '## Figures to take with care', '', ...warnings] : []),
    '',
  ].join('\n');
}
