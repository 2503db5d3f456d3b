// report.md: the ladder side by side with the article's figures.
import type { RunFile, RungResult } from './run-file.ts';

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
  return { base: base !== undefined ? base / mine : undefined, prev: prev !== undefined && r.id !== baseId ? prev / mine : undefined };
}

export function renderTable(run: RunFile): string {
  const head = '| rung | status | median (s) | spread min–max (s) | n | vs baseline | vs previous | article seed (s) | article published (s) | article vs baseline | article vs previous |';
  const rows = run.rungs.map((r) => {
    const a = articleSpeedups(run, r);
    const s = r.stats;
    const status = r.status === 'ok' ? 'ok' : `**${r.status}**`;
    const prev = r.compare_to ? ` (vs ${r.compare_to})` : '';
    return `| ${r.id} | ${status} | ${num(s?.median_s, 3)} | ${s ? `${num(s.min_s, 3)}–${num(s.max_s, 3)}` : '–'} | ${s?.n ?? 0} | ${times(r.speedup_vs_baseline)} | ${times(r.speedup_vs_previous)}${r.speedup_vs_previous !== undefined ? prev : ''} | ${num(r.article?.seed_s, 1)} | ${num(r.article?.published_s, 2)} | ${times(a.base)} | ${times(a.prev)} |`;
  });
  return [head, `|${'---|'.repeat(11)}`, ...rows].join('\n');
}

export function renderReport(run: RunFile): string {
  const m = run.machine;
  const sc = (run.rungs[0]?.config as { scenario?: Record<string, unknown>; model?: string } | undefined);
  const failures = run.rungs.filter((r) => r.status === 'failed').map((r) => `- **${r.id}**: ${r.error}`);
  return [
    `# ladder run: ${run.ladder?.name ?? 'ad hoc'}`,
    '',
    `Machine: ${m.cpu_model}, ${m.logical_cpus} logical CPUs, ${(m.memory_bytes / 2 ** 30).toFixed(0)} GiB, ${m.os}; ISA: ${Object.entries(m.isa).filter(([, v]) => v).map(([k]) => k).join(' ') || 'none listed'}`,
    `Model: ${sc?.model ?? '?'}; scenario: ${JSON.stringify(sc?.scenario ?? {})}`,
    `Command: \`${run.command}\`; started ${run.started}${run.finished ? `, finished ${run.finished}` : ' (unfinished)'}`,
    '',
    renderTable(run),
    '',
    'The article measured a 32-core Sapphire Rapids at 512x512, 20 steps; its speedups are computed from its published figures.',
    ...(failures.length ? ['', '## Failed rungs', '', ...failures] : []),
    '',
  ].join('\n');
}
