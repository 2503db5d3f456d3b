// Comparing two runs rung by rung, as asv compare / benchstat do: the ratio of medians, and a
// two-sided Mann-Whitney U test on the passes to tell a real change from noise.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
import type { RunFile, RungResult } from './run-file.ts';
import { SCHEMA_VERSION } from './run-file.ts';
import { spreadWarning, stats, type Stats } from './stats.ts';

// ---------------------------------------------------------------------------------------------
// Mann-Whitney U

export interface MannWhitney {
  /** U of the first sample (scipy's U1): the number of pairs (x, y) with x > y, ties counting 1/2. */
  u: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'normal';
}

/** Largest sample size for the exact distribution (C(40, 20) ~ 1.4e11 counts stay exact in doubles). */
export const EXACT_MAX_N = 20;

/** Midranks (1-based) of `values`, and the sizes of the groups of ties. */
function midranks(values: number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = rank;
    if (j > i) ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

/**
 * Number of arrangements of m x's and n y's with U = u, for u = 0..m*n (no ties), by the
 * recurrence c(m, n, u) = c(m-1, n, u-n) + c(m, n-1, u) (the last element is an x above all n y's,
 * or a y). Sums to C(m+n, m).
 */
export function uCounts(m: number, n: number): number[] {
  // row[j] = counts for (i, j) while sweeping i = 0..m.
  let row: number[][] = Array.from({ length: n + 1 }, () => [1]);
  for (let i = 1; i <= m; i++) {
    const next: number[][] = [[1]];
    for (let j = 1; j <= n; j++) {
      const c = new Array<number>(i * j + 1).fill(0);
      const up = row[j]!;        // (i-1, j), shifted by j
      const left = next[j - 1]!; // (i, j-1)
      for (let u = 0; u < up.length; u++) c[u + j]! += up[u]!;
      for (let u = 0; u < left.length; u++) c[u]! += left[u]!;
      next.push(c);
    }
    row = next;
  }
  return row[n]!;
}

/** Upper tail of the standard normal, through erfc (series below 2, continued fraction above). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    // erf(x) = 2/sqrt(pi) * sum_k (-1)^k x^(2k+1) / (k! (2k+1))
    let term = x;
    let sum = x;
    for (let k = 1; k < 100; k++) {
      term *= (-x * x) / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), evaluated backwards.
  let t = x;
  for (let k = 80; k >= 1; k--) t = x + k / 2 / t;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / t;
}

/**
 * Two-sided Mann-Whitney U test. Exact distribution when there are no ties and both samples have
 * at most EXACT_MAX_N values; otherwise the normal approximation with tie correction and continuity
 * correction. Same results as scipy.stats.mannwhitneyu(x, y, method='exact' / 'asymptotic');
 * `method: 'normal'` forces the approximation.
 */
export function mannWhitneyU(x: number[], y: number[], method: 'auto' | 'normal' = 'auto'): MannWhitney {
  const n1 = x.length;
  const n2 = y.length;
  if (!n1 || !n2) return { u: Number.NaN, p: Number.NaN, method: 'exact' };
  const { ranks, ties } = midranks([...x, ...y]);
  const r1 = ranks.slice(0, n1).reduce((a, b) => a + b, 0);
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const big = Math.max(u1, n1 * n2 - u1);
  if (method === 'auto' && !ties.length && n1 <= EXACT_MAX_N && n2 <= EXACT_MAX_N) {
    const counts = uCounts(n1, n2);
    const total = counts.reduce((a, b) => a + b, 0);
    let upper = 0;
    for (let u = Math.round(big); u < counts.length; u++) upper += counts[u]!;
    return { u: u1, p: Math.min(1, (2 * upper) / total), method: 'exact' };
  }
  const n = n1 + n2;
  const tieTerm = ties.reduce((a, t) => a + t ** 3 - t, 0);
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (!(sd > 0)) return { u: u1, p: 1, method: 'normal' };  // every value tied: no evidence at all
  const z = (big - (n1 * n2) / 2 - 0.5) / sd;
  return { u: u1, p: Math.min(1, Math.max(0, 2 * normalSf(z))), method: 'normal' };
}

export function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/** The smallest two-sided p-value the test can give with these sample sizes: 2 / C(n1+n2, n1). */
export function minPValue(n1: number, n2: number): number {
  return Math.min(1, 2 / binomial(n1 + n2, n1));
}

// ---------------------------------------------------------------------------------------------
// Verdicts

export type Verdict = 'slower' | 'faster' | 'unchanged' | 'inconclusive' | 'only-a' | 'only-b' | 'not-ok';

export interface CompareOptions {
  /** Significance level of the U test. */
  alpha: number;
  /** Smallest relative change that counts: slower if B/A > 1 + factor, faster if B/A < 1/(1 + factor). */
  factor: number;
}

export const DEFAULT_OPTIONS: CompareOptions = { alpha: 0.05, factor: 0.10 };

/**
 * asv/benchstat-style verdict: a change needs both significance (p < alpha) and size (beyond the
 * factor). When even the most extreme arrangement of n1 vs n2 passes could not reach p < alpha,
 * the answer is 'inconclusive' (and says why) rather than a silent 'unchanged'.
 */
export function verdictOf(ratio: number, p: number, n1: number, n2: number, o: CompareOptions = DEFAULT_OPTIONS): { verdict: Verdict; note?: string } {
  if (minPValue(n1, n2) >= o.alpha) {
    const big = ratio > 1 + o.factor || ratio < 1 / (1 + o.factor);
    const more = big ? ` (B/A ${fmtRatio(ratio)} is beyond the ${fmtFactor(o.factor)} factor: measure more passes)` : '';
    return { verdict: 'inconclusive', note: `too few samples for significance: n=${n1},${n2}${more}` };
  }
  if (p < o.alpha && ratio > 1 + o.factor) return { verdict: 'slower' };
  if (p < o.alpha && ratio < 1 / (1 + o.factor)) return { verdict: 'faster' };
  if (p < o.alpha && ratio !== 1) return { verdict: 'unchanged', note: `significant (p=${fmtP(p)}) but within the ${fmtFactor(o.factor)} factor` };
  return { verdict: 'unchanged' };
}

// ---------------------------------------------------------------------------------------------
// Comparing two run files

export interface LoadedRun {
  /** The run.json path as shown to the user. */
  file: string;
  run: RunFile;
}

export interface RungComparison {
  id: string;
  verdict: Verdict;
  /** What the verdict column shows. */
  label: string;
  a?: Stats;
  b?: Stats;
  ratio?: number;
  test?: MannWhitney;
  notes: string[];
}

export interface Comparison {
  a: LoadedRun;
  b: LoadedRun;
  options: CompareOptions;
  rows: RungComparison[];
  /** Reasons the two runs may not be comparable at all: other machine, other scenario. */
  warnings: string[];
}

/** Reads A or B: a run directory holding run.json, or a run.json file. Bad input is a UserError. */
export function loadRun(arg: string): LoadedRun {
  let file = arg;
  if (!existsSync(arg)) throw new UserError(`no such run directory or file: ${arg}`);
  if (statSync(arg).isDirectory()) {
    file = path.join(arg, 'run.json');
    if (!existsSync(file)) throw new UserError(`${arg} is not a run directory (no run.json in it)`);
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`${file} is not a run.json (invalid JSON: ${oneLine((err as Error).message, 100)})`);
  }
  return { file, run: checkRunFile(data, file) };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Checks what compare relies on; the rest of the file is passed through untouched. */
export function checkRunFile(data: unknown, file: string): RunFile {
  if (!isObject(data) || !('schema_version' in data)) throw new UserError(`${file} is not a run.json (no schema_version)`);
  if (data.schema_version !== SCHEMA_VERSION) {
    throw new UserError(`${file} has schema_version ${JSON.stringify(data.schema_version)}; this ladder reads schema_version ${SCHEMA_VERSION}`);
  }
  if (!Array.isArray(data.rungs)) throw new UserError(`${file} is not a run.json (no rungs list)`);
  data.rungs.forEach((r: unknown, i) => {
    const bad = (why: string) => new UserError(`${file}: rungs[${i}] ${why}`);
    if (!isObject(r) || typeof r.id !== 'string') throw bad('has no id');
    if (!['ok', 'failed', 'running'].includes(r.status as string)) throw bad(`(${r.id}) has an unknown status ${JSON.stringify(r.status)}`);
    if (!Array.isArray(r.samples_s) || !r.samples_s.every((s) => typeof s === 'number' && Number.isFinite(s))) {
      throw bad(`(${r.id}) has no valid samples_s list`);
    }
  });
  return data as unknown as RunFile;
}

function sorted(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(sorted);
  if (isObject(x)) return Object.fromEntries(Object.keys(x).sort().map((k) => [k, sorted(x[k])]));
  return x;
}
const same = (x: unknown, y: unknown) => JSON.stringify(sorted(x)) === JSON.stringify(sorted(y));

/**
 * The scenario fields that differ between two rungs ("steps 20 vs 5"). `passes` is left out: it
 * changes how many samples there are, not what one sample measures (n is shown beside each ratio).
 */
function scenarioDiff(a: RungResult, b: RungResult): string[] {
  const sa = (a.config?.scenario ?? {}) as Record<string, unknown>;
  const sb = (b.config?.scenario ?? {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(sa), ...Object.keys(sb)])].filter((k) => k !== 'passes').sort();
  const diffs = keys.filter((k) => !same(sa[k], sb[k])).map((k) => `${k} ${JSON.stringify(sa[k]) ?? '(none)'} vs ${JSON.stringify(sb[k]) ?? '(none)'}`);
  if (a.config?.model !== b.config?.model) diffs.push(`model ${JSON.stringify(a.config?.model) ?? '(none)'} vs ${JSON.stringify(b.config?.model) ?? '(none)'}`);
  return diffs;
}

function machineWarning(a: RunFile, b: RunFile): string | undefined {
  const ma = a.machine as Partial<RunFile['machine']> | undefined;
  const mb = b.machine as Partial<RunFile['machine']> | undefined;
  if (ma?.cpu_model === mb?.cpu_model && ma?.logical_cpus === mb?.logical_cpus) return undefined;
  const desc = (m: typeof ma) => `${m?.cpu_model ?? 'unknown CPU'}, ${m?.logical_cpus ?? '?'} logical CPUs`;
  return `the runs come from different machines (A: ${desc(ma)}; B: ${desc(mb)}): differences may be the machine's, not the code's`;
}

const statusIn = (r: RungResult, side: 'A' | 'B'): string | undefined => {
  if (r.status === 'failed') return `failed in ${side}`;
  if (r.status === 'running') return `unfinished in ${side}`;
  if (!r.samples_s.length) return `no samples in ${side}`;
  return undefined;
};

function compareRung(ra: RungResult, rb: RungResult, o: CompareOptions): RungComparison {
  const problems = [statusIn(ra, 'A'), statusIn(rb, 'B')].filter((x): x is string => x !== undefined);
  if (problems.length) {
    const notes = [ra, rb].flatMap((r, i) => (r.status === 'failed' && r.error ? [`${i ? 'B' : 'A'}: ${oneLine(r.error)}`] : []));
    return { id: ra.id, verdict: 'not-ok', label: problems.join(', '), notes };
  }
  const a = stats(ra.samples_s);
  const b = stats(rb.samples_s);
  const ratio = b.median_s / a.median_s;
  const test = mannWhitneyU(ra.samples_s, rb.samples_s);
  const { verdict, note } = verdictOf(ratio, test.p, a.n, b.n, o);
  const notes = note ? [note] : [];
  for (const [side, s] of [['A', a], ['B', b]] as const) {
    const w = spreadWarning(s);
    if (w) notes.push(`${side}: ${w}`);
  }
  return { id: ra.id, verdict, label: verdict, a, b, ratio, test, notes };
}

const oneLine = (s: string, max = 160) => {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

/** Every rung of A in A's order, then the rungs only B has. */
export function compareRuns(a: LoadedRun, b: LoadedRun, options: CompareOptions = DEFAULT_OPTIONS): Comparison {
  const rows: RungComparison[] = [];
  const warnings: string[] = [];
  const mw = machineWarning(a.run, b.run);
  if (mw) warnings.push(mw);
  const diffs = new Map<string, string[]>();  // one warning per distinct difference, naming the rungs
  const inB = new Map(b.run.rungs.map((r) => [r.id, r]));
  const inA = new Set(a.run.rungs.map((r) => r.id));
  for (const ra of a.run.rungs) {
    const rb = inB.get(ra.id);
    if (!rb) {
      rows.push({ id: ra.id, verdict: 'only-a', label: 'only in A', notes: [] });
      continue;
    }
    const d = scenarioDiff(ra, rb).join(', ');
    if (d) diffs.set(d, [...(diffs.get(d) ?? []), ra.id]);
    rows.push(compareRung(ra, rb, options));
  }
  for (const rb of b.run.rungs) if (!inA.has(rb.id)) rows.push({ id: rb.id, verdict: 'only-b', label: 'only in B', notes: [] });
  const common = rows.filter((r) => r.verdict !== 'only-a' && r.verdict !== 'only-b').length;
  for (const [d, ids] of diffs) {
    warnings.push(`scenarios differ (${ids.length === common ? 'every rung' : ids.join(', ')}): ${d}`);
  }
  return { a, b, options, rows, warnings };
}

export function hasRegression(c: Comparison): boolean {
  return c.rows.some((r) => r.verdict === 'slower');
}

// ---------------------------------------------------------------------------------------------
// Rendering

function fmtP(p: number): string {
  if (!Number.isFinite(p)) return '–';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}
const fmtFactor = (f: number) => `±${+(f * 100).toFixed(2)}%`;
const fmtS = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(3));
const fmtRatio = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(3)}x`);

const HEAD = ['rung', 'median A (s)', 'median B (s)', 'B/A', 'p', 'n A,B', 'verdict'];

function cells(r: RungComparison): string[] {
  return [
    r.id, fmtS(r.a?.median_s), fmtS(r.b?.median_s), fmtRatio(r.ratio), r.test ? fmtP(r.test.p) : '–',
    r.a && r.b ? `${r.a.n},${r.b.n}` : '–', r.label,
  ];
}

function describe(x: LoadedRun): string {
  const m = x.run.machine as Partial<RunFile['machine']> | undefined;
  return `${x.file} (started ${x.run.started ?? '?'}; ${m?.cpu_model ?? 'unknown CPU'}, ${m?.logical_cpus ?? '?'} logical CPUs)`;
}

function summary(c: Comparison): string {
  const count = (v: Verdict) => c.rows.filter((r) => r.verdict === v).length;
  const parts = [
    `${count('slower')} slower`, `${count('faster')} faster`, `${count('unchanged')} unchanged`,
    ...(count('inconclusive') ? [`${count('inconclusive')} inconclusive`] : []),
    ...(count('only-a') + count('only-b') ? [`${count('only-a') + count('only-b')} in one run only`] : []),
    ...(count('not-ok') ? [`${count('not-ok')} failed or unfinished`] : []),
  ];
  return parts.join(', ');
}

function rule(c: Comparison): string {
  const { alpha, factor } = c.options;
  return `slower/faster: two-sided Mann-Whitney U test on the passes at p < ${alpha}, and a median ratio B/A above ${(1 + factor).toFixed(3)} / below ${(1 / (1 + factor)).toFixed(3)}`;
}

function notesOf(c: Comparison): string[] {
  return c.rows.flatMap((r) => r.notes.map((n) => `${r.id}: ${n}`));
}

/** Aligned plain-text table: numbers right-aligned, names left-aligned. */
export function renderText(c: Comparison): string {
  const rows = [HEAD, ...c.rows.map(cells)];
  const widths = HEAD.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const right = new Set([1, 2, 3, 4, 5]);
  const line = (r: string[]) => r.map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  const notes = notesOf(c);
  return [
    `A: ${describe(c.a)}`,
    `B: ${describe(c.b)}`,
    ...c.warnings.map((w) => `warning: ${w}`),
    '',
    ...rows.map(line),
    '',
    ...(notes.length ? ['notes:', ...notes.map((n) => `  ${n}`), ''] : []),
    `${summary(c)}.`,
    `${rule(c)}.`,
    '',
  ].join('\n');
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|');

/** A Markdown table for a pull-request comment. */
export function renderMarkdown(c: Comparison): string {
  const bold = (r: RungComparison, s: string) => (r.verdict === 'slower' || r.verdict === 'faster' ? `**${s}**` : s);
  const notes = notesOf(c);
  return [
    `**A**: \`${c.a.file}\` (started ${c.a.run.started ?? '?'})  `,
    `**B**: \`${c.b.file}\` (started ${c.b.run.started ?? '?'})`,
    '',
    ...c.warnings.map((w) => `> **Warning**: ${mdCell(w)}\n`),
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map((_, i) => (i === 0 || i === HEAD.length - 1 ? '---' : '---:')).join('|')}|`,
    ...c.rows.map((r) => {
      const cs = cells(r).map(mdCell);
      cs[cs.length - 1] = bold(r, cs[cs.length - 1]!);
      return `| ${cs.join(' | ')} |`;
    }),
    '',
    ...(notes.length ? [...notes.map((n) => `- ${mdCell(n)}`), ''] : []),
    `${summary(c)}.  `,
    `${rule(c)}.`,
    '',
  ].join('\n');
}
