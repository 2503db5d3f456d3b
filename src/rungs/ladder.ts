// A ladder is data: a YAML file of rungs, each a backend plus launcher settings and backend toggles.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { stackNames } from '../envs/stacks.ts';
import { UserError } from '../errors.ts';
import type { LaunchConfig } from '../launcher/launch.ts';
import { repoRoot } from '../paths.ts';

export interface Rung {
  id: string;
  description: string;
  backend: string;
  launcher: LaunchConfig;
  options: RungOptions;
  extends?: string;
  /** The rung a speedup is measured against: the one it extends, else the ladder's first rung. */
  compare_to?: string;
  article?: { seed_s?: number; published_s?: number };
}

/** Backend toggles. Each is proven from inside the worker before a figure is reported. */
export interface RungOptions {
  scheduler?: 'default' | 'dpm';
  dtype?: 'fp32' | 'bf16';
  channels_last?: boolean;
  ipex?: boolean;
  static_shape?: boolean;
  precision?: 'auto' | 'f32' | 'bf16';
}

// Allowed values of each option (the first is the neutral one: what leaving it out means),
// and the backends that understand it.
export const OPTIONS: Record<keyof RungOptions, { values: unknown[]; backends: string[] }> = {
  scheduler: { values: ['default', 'dpm'], backends: ['torch', 'ipex', 'openvino'] },
  dtype: { values: ['fp32', 'bf16'], backends: ['torch', 'ipex'] },
  channels_last: { values: [false, true], backends: ['torch', 'ipex'] },
  ipex: { values: [false, true], backends: ['ipex'] },
  static_shape: { values: [false, true], backends: ['openvino'] },
  precision: { values: ['auto', 'f32', 'bf16'], backends: ['openvino'] },
};
const BINDINGS = ['none', 'numactl', 'taskset'];

export interface Ladder {
  name: string;
  file: string;
  rungs: Rung[];
}

export const ARTICLE_LADDER = path.join(repoRoot, 'ladders', 'article.yaml');
const ALLOCATORS = ['default', 'jemalloc', 'tcmalloc'];

interface RawRung {
  id?: unknown;
  extends?: unknown;
  compare_to?: unknown;
  description?: unknown;
  backend?: unknown;
  launcher?: Record<string, unknown>;
  options?: Record<string, unknown>;
  article?: Rung['article'];
}

export function loadLadder(file = ARTICLE_LADDER): Ladder {
  let doc: { name?: unknown; rungs?: unknown };
  const where = path.relative(process.cwd(), file) || file;
  try {
    doc = YAML.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!doc || !Array.isArray(doc.rungs) || !doc.rungs.length) throw new UserError(`${where}: 'rungs' must be a non-empty list`);
  const byId = new Map<string, Rung>();
  for (const [i, raw] of (doc.rungs as RawRung[]).entries()) {
    const bad = (field: string, why: string) => new UserError(`${where}: rung ${typeof raw?.id === 'string' ? raw.id : `#${i + 1}`}: ${field}: ${why}`);
    if (typeof raw?.id !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(raw.id)) throw bad('id', 'must be lowercase letters, digits and dashes');
    if (byId.has(raw.id)) throw bad('id', 'duplicate');
    let parent: Rung | undefined;
    if (raw.extends !== undefined) {
      parent = byId.get(String(raw.extends));
      if (!parent) throw bad('extends', `no earlier rung '${String(raw.extends)}'`);
    }
    const backend = raw.backend ?? parent?.backend;
    if (typeof backend !== 'string') throw bad('backend', 'missing');
    if (!stackNames().includes(backend)) throw bad('backend', `no environment '${backend}' under envs/ (known: ${stackNames().join(', ')})`);
    const launcher = { allocator: 'default', ...parent?.launcher, ...raw.launcher } as LaunchConfig;
    if (!ALLOCATORS.includes(launcher.allocator)) throw bad('launcher.allocator', `must be one of ${ALLOCATORS.join(', ')}`);
    if (launcher.threads !== undefined && !(Number.isInteger(launcher.threads) && launcher.threads > 0)) throw bad('launcher.threads', 'must be a positive integer');
    if (launcher.bind !== undefined && !BINDINGS.includes(launcher.bind)) throw bad('launcher.bind', `must be one of ${BINDINGS.join(', ')}`);
    if (launcher.bind && launcher.bind !== 'none' && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(String(launcher.cores ?? ''))) throw bad('launcher.cores', 'a core list like 0-1 or 0,2 is needed with bind');
    if (launcher.env !== undefined && (typeof launcher.env !== 'object' || Object.values(launcher.env).some((v) => typeof v !== 'string'))) throw bad('launcher.env', 'must map names to strings');
    const options = { ...parent?.options, ...raw.options } as Record<string, unknown>;
    for (const [key, value] of Object.entries(options)) {
      const spec = OPTIONS[key as keyof RungOptions];
      if (!spec) throw bad(`options.${key}`, `unknown option (known: ${Object.keys(OPTIONS).join(', ')})`);
      if (!spec.values.includes(value)) throw bad(`options.${key}`, `must be one of ${spec.values.join(', ')} (got ${JSON.stringify(value)})`);
      if (!spec.backends.includes(backend) && value !== spec.values[0]) {
        throw bad(`options.${key}`, `not supported by backend ${backend}`);
      }
    }
    const compareTo = raw.compare_to ?? raw.extends;
    if (compareTo !== undefined && !byId.has(String(compareTo))) throw bad('compare_to', `no earlier rung '${String(compareTo)}'`);
    if (raw.article !== undefined && (typeof raw.article !== 'object' || Object.values(raw.article).some((v) => typeof v !== 'number'))) throw bad('article', 'must map seed_s / published_s to numbers');
    byId.set(raw.id, {
      id: raw.id,
      description: typeof raw.description === 'string' ? raw.description : (parent?.description ?? ''),
      backend,
      launcher,
      options: options as RungOptions,
      extends: parent?.id,
      compare_to: compareTo === undefined ? undefined : String(compareTo),
      article: raw.article,
    });
  }
  return { name: typeof doc.name === 'string' ? doc.name : path.basename(file), file, rungs: [...byId.values()] };
}
