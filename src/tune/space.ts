// A search space as data: axes of settable fields (as `--set` names them) and constraints between
// them. Enumerating it gives the candidates `ladder tune` measures, and says what was pruned and why
// before anything runs.
import path from 'node:path';
import { z } from 'zod';
import { getBackend } from '../backends/registry.ts';
import { UserError } from '../errors.ts';
import { instanceRungs } from '../launcher/instances.ts';
import { repoRoot } from '../paths.ts';
import { applyOverrides, NAME, printable, type Rung } from '../rungs/ladder.ts';
import { readYamlFile, UNSAFE_KEYS } from '../yaml-file.ts';

/** `backend`, `env`, `launcher.<field>` or `options.<name>`: what `--set` accepts. */
const FIELD = /^(backend|env|launcher\.[a-z_]+|options\.[A-Za-z0-9_]+)$/;
const field = z
  .string()
  .regex(FIELD, 'must be backend, env, launcher.<field> or options.<name>')
  .refine((f) => !f.split('.').some((k) => UNSAFE_KEYS.has(k)), { message: 'is not a field' });
/** A key of a launcher or options map: never one that reaches Object.prototype. */
const key = (re: RegExp, message: string) =>
  z
    .string()
    .regex(re, message)
    .refine((k) => !UNSAFE_KEYS.has(k), { message: 'is not a field' });
const value = z.union([z.string(), z.number(), z.boolean()]);
const match = z.record(field, value);

const constraintSchema = z
  .object({
    when: match.optional().describe('the constraint applies to candidates with all these values'),
    require: match.optional().describe('such a candidate must also have these values'),
    forbid: match.optional().describe('such a candidate may not have all these values'),
    why: printable().describe('shown with the pruned count'),
  })
  .strict()
  .refine((c) => !!c.require !== !!c.forbid, { message: 'needs require or forbid (one of them)' });

export const spaceSchema = z
  .object({
    name: z.string().regex(NAME),
    description: printable().optional(),
    /** The rung every candidate is compared with, measured in the same run (the article's best). */
    reference: z
      .object({
        id: z.string().regex(NAME).default('reference'),
        backend: z.string(),
        launcher: z.record(key(/^[a-z_]+$/, 'must be a launcher field'), value).optional(),
        options: z.record(key(/^[A-Za-z0-9_]+$/, 'must be an option name'), value).optional(),
      })
      .strict(),
    axes: z.record(field, z.array(value).min(1)).refine((a) => 'backend' in a, { message: 'needs a backend axis' }),
    constraints: z.array(constraintSchema).default([]),
  })
  .strict();

export type Space = z.infer<typeof spaceSchema>;
type Values = Record<string, string | number | boolean>;

export interface Candidate {
  id: string;
  /** The axis values that made it (only those that apply to its backend). */
  values: Values;
  rung: Rung;
}

export interface Enumerated {
  /** Every combination of the axes' values. */
  combinations: number;
  /** Combinations that differ only in options their backend does not have (counted once). */
  notApplicable: number;
  /** Per constraint or validation message: how many candidates it removed. */
  pruned: { why: string; count: number }[];
  candidates: Candidate[];
  reference: Rung;
}

export function spacePath(spec: string): string {
  return NAME.test(spec) && !spec.includes('.') ? path.join(repoRoot, 'ladders', `${spec}.yaml`) : spec;
}

export function loadSpace(file: string): Space {
  const { doc, where } = readYamlFile(file, 'space file');
  // A ladder may carry its space under `space:`.
  const body = doc && typeof doc === 'object' && 'space' in doc ? (doc as { space: unknown }).space : doc;
  const parsed = spaceSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`${where}: ${issue.path.join('.') || 'the file'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The candidate's value of a field: as set, else the backend's default (options), else undefined. */
function fieldValue(values: Values, rung: Rung, f: string): unknown {
  if (f in values) return values[f];
  if (f === 'backend') return rung.backend;
  if (f === 'env') return rung.env;
  const [head, key] = f.split('.') as [string, string];
  if (head === 'launcher') return (rung.launcher as unknown as Record<string, unknown>)[key];
  const defaults = getBackend(rung.backend).options.parse({}) as Record<string, unknown>;
  return rung.options[key] ?? defaults[key];
}

const matches = (values: Values, rung: Rung, m: Values | undefined) =>
  Object.entries(m ?? {}).every(([f, v]) => fieldValue(values, rung, f) === v);

function* product(axes: [string, Space['axes'][string]][]): Generator<Values> {
  if (!axes.length) {
    yield {};
    return;
  }
  const [[f, vs], ...rest] = axes as [[string, (string | number | boolean)[]], ...[string, never][]];
  for (const v of vs) for (const tail of product(rest)) yield { [f]: v, ...tail };
}

/** A readable id from the values that vary across the space ("openvino-dpm-tcmalloc"). */
function candidateId(values: Values, varying: string[], taken: Set<string>): string {
  const parts = varying
    .filter((f) => f in values)
    .map((f) => {
      const v = values[f];
      return typeof v === 'boolean' ? (v ? f.split('.').pop()! : `no-${f.split('.').pop()}`) : String(v);
    });
  const base =
    parts
      .join('-')
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '') || 'candidate';
  let id = base;
  for (let i = 2; taken.has(id); i++) id = `${base}-${i}`;
  taken.add(id);
  return id;
}

export interface EnumerateOptions {
  /** latency: one instance per candidate (candidates of several are pruned); throughput: any. */
  objective?: 'latency' | 'throughput';
  /** The cores instances may share out (default: this process's affinity). */
  cores?: () => number[];
}

/** The largest space enumerated: far beyond what any budget could measure, and seconds to check. */
export const MAX_COMBINATIONS = 10_000;

/** Every combination, pruned: options the backend lacks dropped, constraints applied, each rung validated. */
export function enumerate(space: Space, o: EnumerateOptions = {}): Enumerated {
  const ref = space.reference;
  const base: Rung = {
    id: 'candidate',
    description: '',
    backend: ref.backend,
    env: getBackend(ref.backend).env,
    launcher: { allocator: 'default' },
    options: {},
  };
  const reference = applyOverrides({ ...base, id: ref.id, description: 'the reference of the search' }, [
    `backend=${ref.backend}`,
    ...Object.entries(ref.launcher ?? {}).map(([k, v]) => `launcher.${k}=${JSON.stringify(v)}`),
    ...Object.entries(ref.options ?? {}).map(([k, v]) => `options.${k}=${JSON.stringify(v)}`),
  ]);
  const axes = Object.entries(space.axes);
  const varying = axes.filter(([, vs]) => vs.length > 1).map(([f]) => f);
  const combinations = axes.reduce((n, [, vs]) => n * vs.length, 1);
  // Each combination is validated one by one (a few ms each): 64^4 would run for hours, deaf to signals.
  if (combinations > MAX_COMBINATIONS)
    throw new UserError(
      `space ${space.name}: ${combinations.toLocaleString('en')} combinations of its axes; at most ${MAX_COMBINATIONS.toLocaleString('en')} (fewer values per axis, or split the space)`,
    );
  const seen = new Set<string>();
  const prunedBy = new Map<string, number>();
  const prune = (why: string) => prunedBy.set(why, (prunedBy.get(why) ?? 0) + 1);
  const taken = new Set([reference.id]);
  const candidates: Candidate[] = [];
  for (const all of product(axes)) {
    const backend = String(all.backend);
    let known: Set<string>;
    try {
      known = new Set(Object.keys(getBackend(backend).options.shape));
    } catch (err) {
      throw new UserError(`space ${space.name}: axes.backend: ${(err as Error).message}`, { cause: err });
    }
    // An option of another backend does not apply to this one: dropped, so duplicates collapse.
    const values = Object.fromEntries(
      Object.entries(all).filter(([f]) => !f.startsWith('options.') || known.has(f.slice('options.'.length))),
    );
    const key = JSON.stringify(Object.entries(values).sort());
    if (seen.has(key)) continue;
    seen.add(key);
    let rung: Rung;
    try {
      rung = applyOverrides(
        base,
        Object.entries(values).map(([f, v]) => `${f}=${JSON.stringify(v)}`),
      );
    } catch (err) {
      prune(`invalid: ${(err as Error).message.replace(/^--set: rung candidate: /, '')}`);
      continue;
    }
    const broken = space.constraints.find((c) => {
      if (!matches(values, rung, c.when)) return false;
      return c.require ? !matches(values, rung, c.require) : matches(values, rung, c.forbid);
    });
    if (broken) {
      prune(broken.why);
      continue;
    }
    const instances = rung.launcher.instances ?? 1;
    if (instances > 1 && o.objective !== 'throughput') {
      prune('several instances measure throughput: only with --objective throughput');
      continue;
    }
    try {
      instanceRungs(rung, o.cores);
    } catch (err) {
      prune((err as Error).message);
      continue;
    }
    const id = candidateId(values, varying, taken);
    candidates.push({ id, values, rung: { ...rung, id, description: describeValues(values) } });
  }
  return {
    combinations,
    notApplicable: combinations - seen.size,
    pruned: [...prunedBy].map(([why, count]) => ({ why, count })),
    candidates,
    reference,
  };
}

export const describeValues = (values: Values) =>
  Object.entries(values)
    .map(([f, v]) => `${f}=${v}`)
    .join(' ');
