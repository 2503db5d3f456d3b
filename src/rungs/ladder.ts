// A ladder is data: a YAML file of rungs, each a backend plus launcher settings and backend options.
// The schema below is the one definition of a ladder file (`ladder rungs --schema` prints it as JSON Schema).
import path from 'node:path';
import { z } from 'zod';
import { backendNames, getBackend } from '../backends/registry.ts';
import { stackNames } from '../envs/stacks.ts';
import { UserError } from '../errors.ts';
import { type LaunchConfig, launcherFields, launcherSchema } from '../launcher/config.ts';
import { repoRoot } from '../paths.ts';
import { parseYaml, readYamlFile, UNSAFE_KEYS } from '../yaml-file.ts';

/** Names that become file and folder names: no separators, no dots at the start. */
export const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const name = z.string().regex(NAME, 'must be lowercase letters, digits, dots, dashes and underscores');

/**
 * Text a file gives that ladder prints (descriptions, a constraint's why): no control characters, so
 * a file cannot move the cursor, recolour or rewrite the user's terminal with escape sequences.
 */
export const PRINTABLE = /^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$/;
export const printable = () =>
  z.string().max(10000).regex(PRINTABLE, 'must be printable text (no control characters or escape sequences)');

const articleSchema = z
  .object({ seed_s: z.number().positive().optional(), published_s: z.number().positive().optional() })
  .strict();

/** A rung as written in the file; `extends` fills in what it leaves out. */
const rawRungSchema = z
  .object({
    id: name,
    extends: z.string().optional(),
    compare_to: z.string().optional(),
    description: printable().optional(),
    backend: z.string().optional().describe('see `ladder rungs --backends`'),
    env: z.string().optional().describe("environment under envs/ (default: the backend's)"),
    launcher: launcherFields.partial().strict().optional(),
    options: z.record(z.string(), z.unknown()).optional().describe("the backend's options"),
    article: articleSchema.optional(),
  })
  .strict();

export const ladderSchema = z
  .object({
    name: name.optional(),
    source: printable().optional(),
    description: printable().optional(),
    rungs: z.array(z.unknown()).min(1),
  })
  .strict();

/** The ladder file's schema as JSON Schema (ladders/ladder.schema.json), for editors. */
export function ladderJsonSchema(): Record<string, unknown> {
  const file = ladderSchema.extend({ rungs: z.array(rawRungSchema).min(1) });
  return {
    ...z.toJSONSchema(file, { io: 'input', unrepresentable: 'any' }),
    title: 'ladder file',
    description:
      "A ladder: rungs, each a backend plus launcher settings and the backend's options (see `ladder rungs --backends`).",
  };
}

export interface Rung {
  id: string;
  description: string;
  backend: string;
  /** The environment its worker runs in (envs/<env>). */
  env: string;
  launcher: LaunchConfig;
  /** Backend options as asked (merged with the rung it extends); defaults are the backend's. */
  options: Record<string, unknown>;
  extends?: string;
  /** The rung a speedup is measured against: the one it extends, else the ladder's first rung. */
  compare_to?: string;
  article?: { seed_s?: number; published_s?: number };
}

export interface Ladder {
  name: string;
  file: string;
  rungs: Rung[];
}

export const ARTICLE_LADDER = path.join(repoRoot, 'ladders', 'article.yaml');

/** `article` or `beyond` names a ladder shipped in ladders/; anything else is a path. */
export function ladderPath(spec: string): string {
  return NAME.test(spec) && !spec.includes('.') ? path.join(repoRoot, 'ladders', `${spec}.yaml`) : spec;
}

const fieldOf = (issue: z.core.$ZodIssue) => issue.path.map(String).join('.') || '(rung)';

function firstIssue(err: z.ZodError): { field: string; message: string } {
  const issue = err.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const prefix = issue.path.length ? `${issue.path.join('.')}.` : '';
    return { field: `${prefix}${issue.keys[0]}`, message: 'unknown field' };
  }
  // A bad key of a record (launcher.env): the key's own problem, not "Invalid key in record".
  if (issue.code === 'invalid_key')
    return { field: fieldOf(issue), message: issue.issues[0]?.message ?? issue.message };
  return { field: fieldOf(issue), message: issue.message };
}

/** The backend's options with its defaults filled in: what the worker is sent and the proofs check. */
export function resolvedOptions(rung: Rung): Record<string, unknown> {
  return getBackend(rung.backend).options.parse(rung.options ?? {}) as Record<string, unknown>;
}

/**
 * Checks a rung once everything it inherits is merged in; `bad` names the file and the rung.
 * Used for the file's rungs and again after command-line overrides.
 */
export function checkRung(
  merged: Omit<Rung, 'backend' | 'env'> & { backend?: unknown; env?: unknown },
  bad: (field: string, why: string) => UserError,
): Rung {
  if (typeof merged.backend !== 'string') throw bad('backend', `missing (known: ${backendNames().join(', ')})`);
  if (!backendNames().includes(merged.backend)) {
    throw bad('backend', `unknown backend '${merged.backend}' (known: ${backendNames().join(', ')})`);
  }
  const backend = getBackend(merged.backend);
  const env = merged.env ?? backend.env;
  if (typeof env !== 'string' || !stackNames().includes(env)) {
    throw bad('env', `no environment '${String(env)}' under envs/ (known: ${stackNames().join(', ')})`);
  }
  const launcher = launcherSchema.safeParse(merged.launcher);
  if (!launcher.success) {
    const { field, message } = firstIssue(launcher.error);
    throw bad(`launcher.${field}`, message);
  }
  const options = backend.options.safeParse(merged.options);
  if (!options.success) {
    const { field, message } = firstIssue(options.error);
    throw bad(`options.${field}`, `${message} (backend ${backend.name})`);
  }
  return { ...merged, backend: merged.backend, env, launcher: launcher.data as LaunchConfig };
}

export function loadLadder(file = ARTICLE_LADDER): Ladder {
  const { doc, where } = readYamlFile(file, 'ladder file');
  const top = ladderSchema.safeParse(doc);
  if (!top.success) {
    const { field, message } = firstIssue(top.error);
    throw new UserError(`${where}: ${field === '(rung)' ? 'the file' : field}: ${message}`);
  }
  const byId = new Map<string, Rung>();
  for (const [i, item] of top.data.rungs.entries()) {
    const label = (item as { id?: unknown } | null)?.id;
    const bad = (field: string, why: string) =>
      new UserError(`${where}: rung ${typeof label === 'string' ? label : `#${i + 1}`}: ${field}: ${why}`);
    const parsed = rawRungSchema.safeParse(item);
    if (!parsed.success) {
      const { field, message } = firstIssue(parsed.error);
      throw bad(field, message);
    }
    const raw = parsed.data;
    if (byId.has(raw.id)) throw bad('id', 'duplicate');
    let parent: Rung | undefined;
    if (raw.extends !== undefined) {
      parent = byId.get(raw.extends);
      if (!parent) throw bad('extends', `no earlier rung '${raw.extends}'`);
    }
    const compareTo = raw.compare_to ?? raw.extends;
    if (compareTo !== undefined && !byId.has(compareTo)) throw bad('compare_to', `no earlier rung '${compareTo}'`);
    const backend = raw.backend ?? parent?.backend;
    byId.set(
      raw.id,
      checkRung(
        {
          id: raw.id,
          description: raw.description ?? parent?.description ?? '',
          backend,
          // A rung that changes backend takes the new backend's environment, not its parent's.
          env: raw.env ?? (raw.backend === undefined ? parent?.env : undefined),
          launcher: { allocator: 'default', ...parent?.launcher, ...raw.launcher } as LaunchConfig,
          options: { ...parent?.options, ...raw.options },
          extends: parent?.id,
          compare_to: compareTo,
          article: raw.article,
        },
        bad,
      ),
    );
  }
  return { name: top.data.name ?? path.basename(file, path.extname(file)), file, rungs: [...byId.values()] };
}

/** The rung with --threads applied (OMP_NUM_THREADS/MKL_NUM_THREADS of its workers). */
export function withThreads(rung: Rung, threads?: number): Rung {
  return threads === undefined ? rung : { ...rung, launcher: { ...rung.launcher, threads } };
}

/**
 * `--set launcher.allocator=tcmalloc --set options.dtype=bf16`: the value is read as YAML (so
 * numbers, booleans and lists keep their type) and the rung is checked again as a whole.
 */
export function applyOverrides(rung: Rung, sets: string[]): Rung {
  if (!sets.length) return rung;
  const merged = structuredClone(rung) as unknown as Record<string, unknown>;
  for (const set of sets) {
    const m = /^([a-z_]+(?:\.[A-Za-z0-9_]+)*)=(.*)$/s.exec(set);
    if (!m) throw new UserError(`--set ${set}: expected field=value, e.g. launcher.allocator=tcmalloc`);
    const [field, text] = [m[1]!, m[2]!];
    const keys = field.split('.');
    // Keys that reach Object.prototype when walked: `launcher.__proto__.bind=...` polluted every object.
    if (keys.some((k) => UNSAFE_KEYS.has(k)))
      throw new UserError(`--set ${set}: '${keys.find((k) => UNSAFE_KEYS.has(k))}' is not a field`);
    if (
      !['launcher', 'options', 'env', 'backend'].includes(keys[0]!) ||
      (keys[0] === 'launcher' || keys[0] === 'options') !== keys.length > 1
    ) {
      throw new UserError(`--set ${set}: settable fields are backend, env, launcher.<field> and options.<name>`);
    }
    let value: unknown;
    try {
      value = parseYaml(text);
    } catch {
      value = text;
    }
    let target = merged;
    for (const k of keys.slice(0, -1)) {
      if (!Object.hasOwn(target, k) || typeof target[k] !== 'object' || target[k] === null) target[k] = {};
      target = target[k] as Record<string, unknown>;
    }
    target[keys.at(-1)!] = value;
  }
  // As in a ladder file, a rung that changes backend takes the new backend's environment.
  const fields = sets.map((s) => s.split('=')[0]);
  if (fields.includes('backend') && !fields.includes('env') && merged.backend !== rung.backend) delete merged.env;
  return checkRung(
    merged as unknown as Rung,
    (field, why) => new UserError(`--set: rung ${rung.id}: ${field}: ${why}`),
  );
}
