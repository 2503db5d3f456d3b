// A ladder is data: a YAML file of rungs, each a backend plus launcher settings and backend toggles.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { UserError } from '../errors.ts';
import type { LaunchConfig } from '../launcher/launch.ts';
import { repoRoot } from '../paths.ts';

export interface Rung {
  id: string;
  description: string;
  backend: string;
  launcher: LaunchConfig;
  options: Record<string, unknown>;
  article?: { seed_s?: number; published_s?: number };
}

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
    const launcher = { allocator: 'default', ...parent?.launcher, ...raw.launcher } as LaunchConfig;
    if (!ALLOCATORS.includes(launcher.allocator)) throw bad('launcher.allocator', `must be one of ${ALLOCATORS.join(', ')}`);
    if (launcher.threads !== undefined && !(Number.isInteger(launcher.threads) && launcher.threads > 0)) throw bad('launcher.threads', 'must be a positive integer');
    byId.set(raw.id, {
      id: raw.id,
      description: typeof raw.description === 'string' ? raw.description : (parent?.description ?? ''),
      backend,
      launcher,
      options: { ...parent?.options, ...raw.options },
      article: raw.article,
    });
  }
  return { name: typeof doc.name === 'string' ? doc.name : path.basename(file), file, rungs: [...byId.values()] };
}
