// The project config file: defaults for the flags people repeat (model, profile, history, cache,
// quality floor). `./ladder.config.yaml`, or the file LADDER_CONFIG names. Flags override it. Each key
// is a default only for the commands that take its flag: the file never breaks another command.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UserError } from './errors.ts';
import { readProblem, readRegularFile } from './files.ts';
import { didYouMean } from './suggest.ts';
import { parseYaml } from './yaml-file.ts';

export const CONFIG_FILE = 'ladder.config.yaml';

const configSchema = z
  .object({
    model: z.string().optional(),
    profile: z.string().optional(),
    history: z.string().optional().describe('nightly history root'),
    cache_dir: z.string().optional().describe('environments, models and peaks (as LADDER_CACHE_DIR)'),
    min_psnr: z.number().min(0).max(1000).optional(),
    heartbeat_timeout: z.number().positive().max(86_400).optional(),
  })
  .strict();

export type ConfigKey = keyof z.infer<typeof configSchema>;

/** The runs' commands: they take the scenario flags. */
const RUNS = ['run', 'reproduce', 'nightly', 'tune'];

/**
 * What each key sets: a flag of the commands listed (never another command's), or for cache_dir the
 * environment variable every command reads. `history` is the nightly history: reproduce's --history
 * (write this run into a history) is a choice made per run, so the file does not make it.
 */
export const CONFIG_KEYS: Record<ConfigKey, { flag?: string; env?: string; commands: string[] }> = {
  model: { flag: 'model', commands: [...RUNS, 'overhead'] },
  profile: { flag: 'profile', commands: RUNS },
  history: { flag: 'history', commands: ['nightly', 'trend'] },
  min_psnr: { flag: 'min-psnr', commands: RUNS },
  heartbeat_timeout: { flag: 'heartbeat-timeout', commands: RUNS },
  cache_dir: { env: 'LADDER_CACHE_DIR', commands: ['every command'] },
};

export interface Config {
  /** The file read, or undefined when there is none. */
  file?: string;
  /** Its keys, relative paths made absolute (relative to the file). */
  values: Partial<Record<ConfigKey, string | number>>;
  /** LADDER_CACHE_DIR was set before the file was read (the environment wins over the file). */
  cacheDirFromEnv: boolean;
}

/** The config file's values (none when there is no file); sets LADDER_CACHE_DIR from cache_dir when unset. */
export function loadConfig(
  env = process.env,
  cwd = process.cwd(),
  note: (line: string) => void = (l) => console.error(l),
): Config {
  const file = env.LADDER_CONFIG ? path.resolve(env.LADDER_CONFIG) : path.join(cwd, CONFIG_FILE);
  const cacheDirFromEnv = !!env.LADDER_CACHE_DIR;
  if (!existsSync(file)) {
    if (env.LADDER_CONFIG) throw new UserError(`LADDER_CONFIG=${env.LADDER_CONFIG}: no such file`);
    return { values: {}, cacheDirFromEnv };
  }
  let doc: unknown;
  let text: string;
  try {
    text = readRegularFile(file);
  } catch (err) {
    throw new UserError(`${file}: ${readProblem(err)}`, { cause: err });
  }
  try {
    doc = parseYaml(text) ?? {};
  } catch (err) {
    throw new UserError(`${file}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new UserError(
      `${file}: must be a mapping of settings (${Object.keys(configSchema.shape).join(', ')}), not a ${Array.isArray(doc) ? 'list' : typeof doc}`,
    );
  const parsed = configSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.code === 'unrecognized_keys' ? issue.keys[0] : issue.path.join('.');
    const known = Object.keys(configSchema.shape);
    throw new UserError(
      issue.code === 'unrecognized_keys'
        ? `${file}: ${field}: unknown key${didYouMean(String(field), known)} (known: ${known.join(', ')})`
        : `${file}: ${field}: ${issue.message}`,
    );
  }
  const c = parsed.data;
  // Relative paths are the config file's, not the caller's working directory.
  const rel = (p?: string) => (p === undefined ? undefined : path.resolve(path.dirname(file), p));
  if (c.cache_dir !== undefined && !env.LADDER_CACHE_DIR) env.LADDER_CACHE_DIR = rel(c.cache_dir);
  const out = { ...c, history: rel(c.history), cache_dir: rel(c.cache_dir) };
  const values = Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
  // A file found in the working folder (not named by LADDER_CONFIG) may have been put there by someone
  // else, and it can choose the cache of environments: say once that it is used, and what it sets.
  const keys = Object.keys(c);
  if (!env.LADDER_CONFIG && keys.length) note(`ladder: using ${file} (${keys.join(', ')})`);
  return { file, values, cacheDirFromEnv };
}
