// Comparing two runs rung by rung, as asv compare / benchstat do: the ratio of medians, and a
// two-sided Mann-Whitney U test on the passes to tell a real change from noise.
import { type RunFile, type RungResult, readRunFile } from './run-file.ts';
import { type CompareOptions, DEFAULT_OPTIONS, judgeSamples, type MannWhitney, type Verdict } from './significance.ts';
import { type Stats, spreadWarning, stats } from './stats.ts';

export { DEFAULT_OPTIONS };

// ---------------------------------------------------------------------------------------------
// Comparing two run files

export interface LoadedRun {
  /** The run.json path as shown to the user. */
  file: string;
  run: RunFile;
}

export interface RungComparison {
  id: string;
  verdict: Verdict | 'only-a' | 'only-b' | 'not-ok';
  /** What the verdict column shows. */
  label: string;
  a?: Stats;
  b?: Stats;
  ratio?: number;
  test?: MannWhitney;
  /**
   * Its speedup over its own run's baseline in A and in B (paired over the rounds in an interleaved
   * run): unlike B/A, free of how much the machine moved between the two runs.
   */
  speedup?: [number | undefined, number | undefined];
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
export const loadRun = (arg: string): LoadedRun => readRunFile(arg);

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function sorted(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(sorted);
  if (isObject(x))
    return Object.fromEntries(
      Object.keys(x)
        .sort()
        .map((k) => [k, sorted(x[k])]),
    );
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
  const diffs = keys
    .filter((k) => !same(sa[k], sb[k]))
    .map((k) => `${k} ${JSON.stringify(sa[k]) ?? '(none)'} vs ${JSON.stringify(sb[k]) ?? '(none)'}`);
  if (a.config?.model !== b.config?.model)
    diffs.push(
      `model ${JSON.stringify(a.config?.model) ?? '(none)'} vs ${JSON.stringify(b.config?.model) ?? '(none)'}`,
    );
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
  if (r.status === 'skipped') return `skipped in ${side}`;
  if (!r.samples_s.length) return `no samples in ${side}`;
  return undefined;
};

function compareRung(ra: RungResult, rb: RungResult, o: CompareOptions): RungComparison {
  const problems = [statusIn(ra, 'A'), statusIn(rb, 'B')].filter((x): x is string => x !== undefined);
  if (problems.length) {
    const notes = [ra, rb].flatMap((r, i) =>
      r.status === 'failed' && r.error ? [`${i ? 'B' : 'A'}: ${oneLine(r.error)}`] : [],
    );
    return { id: ra.id, verdict: 'not-ok', label: problems.join(', '), notes };
  }
  const a = stats(ra.samples_s);
  const b = stats(rb.samples_s);
  const { ratio, test, verdict, note } = judgeSamples(rb.samples_s, ra.samples_s, o);
  const notes = note ? [note] : [];
  for (const [side, s] of [
    ['A', a],
    ['B', b],
  ] as const) {
    const w = spreadWarning(s);
    if (w) notes.push(`${side}: ${w}`);
  }
  const speedup: RungComparison['speedup'] = [ra.speedup_vs_baseline, rb.speedup_vs_baseline];
  return { id: ra.id, verdict, label: verdict, a, b, ratio, test, speedup, notes };
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
  const diffs = new Map<string, string[]>(); // one warning per distinct difference, naming the rungs
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
  for (const rb of b.run.rungs)
    if (!inA.has(rb.id)) rows.push({ id: rb.id, verdict: 'only-b', label: 'only in B', notes: [] });
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
