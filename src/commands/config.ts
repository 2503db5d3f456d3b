// The config file at work: its values become the defaults of the commands that take each key (the
// middleware below), and `ladder config` shows every default and where it came from.
import type { Argv } from 'yargs';
import { CONFIG_FILE, CONFIG_KEYS, type Config, type ConfigKey, loadConfig } from '../config.ts';
import { UserError } from '../errors.ts';
import { defaultCacheRoot } from '../paths.ts';
import { DEFAULT_MIN_PSNR_DB } from '../run/execute.ts';
import { PROFILES } from '../rungs/settings.ts';
import {
  DEFAULT_HEARTBEAT_TIMEOUT_S,
  DEFAULT_HISTORY,
  DEFAULT_PROFILE,
  FLAG_CHECKS,
  jsonOption,
  NIGHTLY_PROFILE,
  printJson,
} from './options.ts';

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Whether the command line gives --flag itself (yargs has filled in every default by now). */
export function givenOnCommandLine(raw: string[], flag: string): boolean {
  const names = new Set([flag, camel(flag)]);
  for (const arg of raw) {
    if (arg === '--') break;
    const m = /^--(?:no-)?([^=]+)/.exec(arg);
    if (m && names.has(m[1]!)) return true;
  }
  return false;
}

/**
 * yargs middleware: the config file's values as defaults of the running command, for the keys it
 * takes (CONFIG_KEYS); a flag on the command line wins. Loaded here, not when yargs starts, so that a
 * broken file does not break --help or --version. `ladder config` reads the file itself.
 */
export function applyConfig(
  argv: Record<string, unknown> & { _: (string | number)[] },
  raw: string[],
  choices: Record<string, unknown[] | undefined>,
): void {
  const command = String(argv._[0] ?? '');
  if (command === 'config' || argv.help || argv.version) return;
  const cfg = loadConfig();
  for (const [key, spec] of Object.entries(CONFIG_KEYS) as [ConfigKey, (typeof CONFIG_KEYS)[ConfigKey]][]) {
    const value = cfg.values[key];
    if (value === undefined || !spec.flag || !spec.commands.includes(command)) continue;
    if (givenOnCommandLine(raw, spec.flag)) continue;
    const allowed = choices[spec.flag];
    if (allowed && !allowed.includes(value))
      throw new UserError(`${cfg.file}: ${key}: '${value}' is not one of ${allowed.join(', ')}`);
    // A bad value is the file's: say so, whichever command meets it first.
    try {
      FLAG_CHECKS[spec.flag]?.(value as never);
    } catch (err) {
      if (err instanceof UserError) throw new UserError(`${cfg.file}: ${key}: ${err.message}`, { cause: err });
      throw err;
    }
    argv[spec.flag] = value;
    argv[camel(spec.flag)] = value;
  }
}

/** What a key is when neither a flag, the environment nor the file sets it. */
function builtIn(key: ConfigKey): { value: string | number; note?: string } {
  switch (key) {
    case 'model':
      return { value: 'auto', note: 'overhead: synthetic:sd15' };
    case 'profile':
      return { value: DEFAULT_PROFILE, note: `nightly: ${NIGHTLY_PROFILE}` };
    case 'history':
      return { value: DEFAULT_HISTORY };
    case 'min_psnr':
      return { value: DEFAULT_MIN_PSNR_DB };
    case 'heartbeat_timeout':
      return { value: DEFAULT_HEARTBEAT_TIMEOUT_S };
    case 'cache_dir':
      return { value: defaultCacheRoot() };
  }
}

export interface ResolvedKey {
  key: ConfigKey;
  value: string | number;
  source: 'flag' | 'env' | 'file' | 'built-in';
  /** The flag (or environment variable) the key sets, and the commands it is a default of. */
  sets: string;
  commands: string[];
  note?: string;
}

/** Every key's value and where it came from: a flag of `ladder config`, the environment, the file, ladder itself. */
export function resolveConfig(cfg: Config, flags: Record<string, unknown>, env = process.env): ResolvedKey[] {
  return (Object.keys(CONFIG_KEYS) as ConfigKey[]).map((key) => {
    const spec = CONFIG_KEYS[key];
    const base = { key, sets: spec.flag ? `--${spec.flag}` : `${spec.env}`, commands: spec.commands };
    const flag = spec.flag === undefined ? undefined : flags[spec.flag];
    if (flag !== undefined) return { ...base, value: flag as string | number, source: 'flag' as const };
    if (key === 'cache_dir' && cfg.cacheDirFromEnv && env.LADDER_CACHE_DIR)
      return { ...base, value: env.LADDER_CACHE_DIR, source: 'env' as const };
    const file = cfg.values[key];
    if (file !== undefined) return { ...base, value: file, source: 'file' as const };
    return { ...base, ...builtIn(key), source: 'built-in' as const };
  });
}

export const configCommand = {
  command: 'config',
  describe: `Show the defaults ${CONFIG_FILE} (or LADDER_CONFIG) sets, every other default, and where each came from`,
  builder: (y: Argv) =>
    jsonOption(y, 'the resolved defaults')
      .option('model', { type: 'string', describe: 'show it as the flag would set it' })
      .option('profile', { type: 'string', choices: Object.keys(PROFILES), describe: 'as --model' })
      .option('history', { type: 'string', describe: 'as --model' })
      .option('min-psnr', { type: 'number', describe: 'as --model' })
      .option('heartbeat-timeout', { type: 'number', describe: 'as --model' })
      .example('$0 config', 'the defaults and their sources: flag, env, file, built-in')
      .epilog(
        `The file (./${CONFIG_FILE}, or the one LADDER_CONFIG names) holds any of: ${Object.entries(CONFIG_KEYS)
          .map(([k, s]) => `${k} (${s.flag ? `--${s.flag} of ${s.commands.join(', ')}` : s.env})`)
          .join('; ')}. A key is a default only for those commands; a flag given wins.`,
      ),
  handler: (a: Record<string, unknown> & { json: boolean }) => {
    const cfg = loadConfig(process.env, process.cwd(), () => undefined);
    const keys = resolveConfig(cfg, a);
    if (a.json) return printJson({ file: cfg.file ?? null, keys });
    console.log(`config file: ${cfg.file ?? `none (no ./${CONFIG_FILE}; LADDER_CONFIG can name one)`}`);
    for (const k of keys)
      console.log(
        `${k.key.padEnd(18)} ${String(k.value).padEnd(24)} ${k.source.padEnd(8)}  ${k.sets} of ${k.commands.join(', ')}${k.note ? `; ${k.note}` : ''}`,
      );
  },
};
