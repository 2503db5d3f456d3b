// Every module in this folder but the shared ones is a backend: adding a backend is adding a file
// here (and python/ladder_worker/backends/<name>.py), nothing to register by hand.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RunError, UserError } from '../errors.ts';
import type { Machine } from '../machine.ts';
import type { Backend } from './types.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHARED = new Set(['registry.ts', 'types.ts', 'common.ts']);

const modules = readdirSync(HERE)
  .filter((f) => f.endsWith('.ts') && !SHARED.has(f))
  .sort();
const loaded = await Promise.all(modules.map((f) => import(path.join(HERE, f)) as Promise<{ backend?: Backend }>));

export const BACKENDS: ReadonlyMap<string, Backend> = new Map(
  loaded.map((m, i) => {
    const b = m.backend;
    if (!b || b.name !== modules[i]!.replace(/\.ts$/, '')) {
      throw new RunError(`src/backends/${modules[i]}: must export \`backend\` named after its file`);
    }
    return [b.name, b];
  }),
);

/**
 * Every backend's options as JSON Schema: protocol/options.json (written by `npm run protocol`, held
 * current by a test), which the worker validates a rung's options against and takes defaults from.
 * The zod schema in src/backends/<name>.ts stays the one definition.
 */
export function optionsJsonSchema(): Record<string, unknown> {
  return Object.fromEntries(
    [...BACKENDS].map(([name, b]) => [name, z.toJSONSchema(b.options, { io: 'input', unrepresentable: 'any' })]),
  );
}

export function backendNames(): string[] {
  return [...BACKENDS.keys()];
}

export function getBackend(name: string): Backend {
  const b = BACKENDS.get(name);
  if (!b) throw new UserError(`unknown backend '${name}' (known: ${backendNames().join(', ')})`);
  return b;
}

/**
 * Why an environment is of no use on this machine: every backend that runs in it is unsupported
 * here (zentorch's on an Intel CPU). `envs provision` and `doctor` then leave it alone.
 */
export function envUnusable(env: string, here: Machine): string | undefined {
  const users = [...BACKENDS.values()].filter((b) => b.env === env);
  const reasons = users.map((b) => b.unsupported?.(here));
  return users.length && reasons.every((r) => r) ? reasons[0] : undefined;
}
