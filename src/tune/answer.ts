// The answer of a search, as data: best.yaml (a ladder of the reference and the winner, which
// `ladder reproduce --ladder best.yaml` confirms in a fresh run) and tune.md (every candidate with
// its speedup, CI, quality and proof status).
import type { TopLevelSpec } from 'vega-lite';
import YAML from 'yaml';
import { BAR_COLOR, FAILED_COLOR } from '../render/chart.ts';
import { mdText } from '../render/markdown.ts';
import { FONT } from '../render/vega.ts';
import { fmtP, judgeSamples, ratioCI } from '../results/significance.ts';
import { BUDGET_SPENT } from '../run/execute.ts';
import type { Rung } from '../rungs/ladder.ts';
import type { Objective } from './executor.ts';
import type { Round, SearchResult } from './search.ts';
import type { Candidate, Enumerated } from './space.ts';

/** A rung as a ladder file writes it (defaults left out: the file stays the user's to read). */
function rungYaml(r: Rung): Record<string, unknown> {
  const launcher = Object.fromEntries(
    Object.entries(r.launcher).filter(([k, v]) => v !== undefined && !(k === 'allocator' && v === 'default')),
  );
  return {
    id: r.id,
    description: r.description,
    backend: r.backend,
    ...(Object.keys(launcher).length ? { launcher } : {}),
    ...(Object.keys(r.options).length ? { options: r.options } : {}),
  };
}

/** `schema`: where ladders/ladder.schema.json is, seen from best.yaml's folder (for editors). */
export function bestYaml(reference: Rung, winner: Candidate, source: string, schema = 'ladder.schema.json'): string {
  const doc = {
    name: 'best',
    source,
    description: `the winner of a ladder tune search, after its reference (${reference.id}): reproduce it with ladder reproduce --ladder best.yaml`,
    rungs: [rungYaml(reference), { ...rungYaml(winner.rung), compare_to: reference.id }],
  };
  return `# yaml-language-server: $schema=${schema}\n${YAML.stringify(doc)}`;
}

const num = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

/** "14 x 1 passes (1278 s)", and how many of them the budget left unstarted. */
function roundText(r: Round): string {
  const late = r.dropped.filter((d) => d.why === BUDGET_SPENT).length;
  return `${r.candidates.length} x ${r.passes} passes (${Math.round(r.seconds)} s${late ? `; ${late} not started, the budget spent` : ''})`;
}

export function renderTune(space: string, e: Enumerated, res: SearchResult, objective: Objective = 'latency'): string {
  const ref = res.latest[res.reference];
  const tp = objective === 'throughput';
  const lines = [
    `# ladder tune: ${space} (${objective})`,
    '',
    tp
      ? 'Objective: throughput, images per second of all instances of a candidate together (each pinned to its own cores), over the window in which they all ran. Each round of passes gives one sample (seconds per image of all instances together) for the significance tests.'
      : 'Objective: latency, seconds per image of one worker.',
    "Quality (PSNR against the fp32 image of the same scheduler) is judged in the screening round; a configuration's image is the same in every round. A candidate under the floor is never the winner. Rungs that change the math (fewer steps, caching) cannot be judged by PSNR and are not in the space.",
    '',
    `Space: ${e.combinations} combinations; ${e.notApplicable} differ only in options their backend does not have; ${e.pruned.reduce((s, p) => s + p.count, 0)} pruned; ${e.candidates.length} candidates.`,
    ...e.pruned.map((p) => `- pruned ${p.count}: ${p.why}`),
    '',
    `Rounds: ${res.rounds.map(roundText).join(', ')}; spent ${Math.round(res.spent_s)} s. Stopped: ${res.stop}.`,
    '',
    res.winner ? `Winner: ${res.winner}` : 'No winner: no candidate was measured correctly above the quality floor.',
    '',
    '![each candidate in its last round, against its image quality](tune.svg)',
    '',
    `| candidate | values | last round | passes | ${tp ? 'images/s' : 'median (s)'} | ${tp ? 'throughput' : 'speedup'} vs reference | CI of the ratio | U test | PSNR (dB) | status |`,
    `|${'---|'.repeat(10)}`,
  ];
  const refRound = (round: number) => (ref && ref.round === round ? ref : undefined);
  for (const c of e.candidates) {
    const m = res.latest[c.id];
    if (!m) continue;
    // Speedups only against the reference measured in the same round (the same run).
    const r = refRound(m.round) ?? ref;
    const same = r && r.round === m.round;
    const speedup = same && m.median_s && r.median_s ? r.median_s / m.median_s : undefined;
    // One pass each (the screening round) gives no interval: a 0% "CI" would read as certainty.
    const ci = same && m.samples_s.length > 1 && r.samples_s.length > 1 ? ratioCI(m.samples_s, r.samples_s) : undefined;
    const j =
      same && m.samples_s.length > 1 && r.samples_s.length > 1
        ? judgeSamples(m.samples_s, r.samples_s, { alpha: 0.05, factor: 0.02 })
        : undefined;
    const psnr = m.quality ? (m.quality.psnr_db === null ? 'identical' : num(m.quality.psnr_db, 1)) : '–';
    const status =
      m.status === 'ok' ? (m.quality?.flagged ? 'under the floor' : 'ok') : `${m.status}: ${m.reason ?? ''}`;
    lines.push(
      `| ${c.id} | ${Object.entries(c.values)
        .map(([k, v]) => `${k}=${v}`)
        .join(
          ' ',
        )} | ${m.round} | ${m.samples_s.length} | ${tp ? num(m.median_s ? 1 / m.median_s : undefined, 4) : num(m.median_s, 3)} | ${speedup ? `${speedup.toFixed(2)}x` : '–'} | ${ci ? `${ci.ci[0].toFixed(2)}–${ci.ci[1].toFixed(2)}x (${(100 * ci.level).toFixed(0)}%)` : '–'} | ${j ? `${j.verdict}, p=${fmtP(j.test.p)}` : '–'} | ${psnr} | ${mdText(status)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The space as a chart: each candidate's time in its last round against its PSNR, by backend. */
export function tuneChartSpec(e: Enumerated, res: SearchResult, objective: Objective = 'latency'): TopLevelSpec {
  const rows = e.candidates.flatMap((c) => {
    const m = res.latest[c.id];
    if (!m?.median_s) return [];
    const psnr = m.quality?.psnr_db;
    return [
      {
        candidate: c.id,
        backend: c.rung.backend,
        seconds: m.median_s,
        // An identical image (infinite PSNR) is drawn at the top of the axis.
        psnr: psnr === null ? 99 : (psnr ?? undefined),
        state: c.id === res.winner ? 'winner' : m.status !== 'ok' || m.quality?.flagged ? 'dropped' : 'measured',
        round: m.round,
      },
    ];
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `ladder tune: ${objective === 'throughput' ? 'seconds per image, all instances together' : 'median seconds per image'} vs PSNR`,
    width: 520,
    height: 320,
    background: 'white',
    config: { font: FONT },
    data: { values: rows.filter((r) => r.psnr !== undefined) },
    mark: { type: 'point', filled: true, size: 90 },
    encoding: {
      x: { field: 'seconds', type: 'quantitative', title: 'seconds per image (last round)', scale: { zero: false } },
      y: { field: 'psnr', type: 'quantitative', title: 'PSNR vs fp32 (dB, 99: identical)', scale: { zero: false } },
      shape: { field: 'backend', type: 'nominal' },
      color: {
        field: 'state',
        type: 'nominal',
        scale: { domain: ['winner', 'measured', 'dropped'], range: ['#2ca02c', BAR_COLOR, FAILED_COLOR] },
      },
      tooltip: [
        { field: 'candidate' },
        { field: 'seconds', format: '.3f' },
        { field: 'psnr', format: '.1f' },
        { field: 'round' },
      ],
    },
  } as TopLevelSpec;
}
