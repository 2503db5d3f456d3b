// The project config file: defaults for the flags people repeat (model, profile, history, cache,
// quality floor). `./ladder.config.yaml`, or the file LADDER_CONFIG names. Flags override it.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UserError } from './errors.ts';
import { readProblem, readRegularFile } from './files.ts';
import { parseYaml } from './yaml-file.ts';

export const CONFIG_FILE = 'ladder.config.yaml';

const configSchema = z
  .object({
    model: z.string().optional(),
    profile: z.string().optional(),
    history: z.string().optional().describe('nightly history root'),
    cache_dir: z.string().optional().describe('environments, models and peaks (as LADDER_CACHE_DIR)'),
    min_psnr: z.number().optional(),
    heartbeat_timeout: z.number().optional(),
  })
  .strict();

/** The config's values as yargs defaults (option names), or {} when there is no config file. */
export function loadConfig(
  env = process.env,
  cwd = process.cwd(),
  note: (line: string) => void = (l) => console.error(l),
): Record<string, unknown> {
  const file = env.LADDER_CONFIG ? path.resolve(env.LADDER_CONFIG) : path.join(cwd, CONFIG_FILE);
  if (!existsSync(file)) {
    if (env.LADDER_CONFIG) throw new UserError(`LADDER_CONFIG=${env.LADDER_CONFIG}: no such file`);
    return {};
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
    throw new UserError(`${file}: ${field}: ${issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message}`);
  }
  const c = parsed.data;
  // Relative paths are the config file's, not the caller's working directory.
  const rel = (p?: string) => (p === undefined ? undefined : path.resolve(path.dirname(file), p));
  if (c.cache_dir !== undefined && !env.LADDER_CACHE_DIR) env.LADDER_CACHE_DIR = rel(c.cache_dir);
  const out: Record<string, unknown> = {
    model: c.model,
    profile: c.profile,
    history: rel(c.history),
    'min-psnr': c.min_psnr,
    'heartbeat-timeout': c.heartbeat_timeout,
  };
  const set = Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
  // A file found in the working folder (not named by LADDER_CONFIG) may have been put there by someone
  // else, and it can choose the cache of environments: say once that it is used, and what it sets.
  const keys = Object.keys(c);
  if (!env.LADDER_CONFIG && keys.length) note(`ladder: using ${file} (${keys.join(', ')})`);
  return set;
}
