// One virtualenv per backend stack, keyed by its requirements and the Python that builds it.
// Two channels: `pinned` (requirements.txt, a full pip freeze: the default, so a night only changes
// when ladder or the machine does) and `latest` (requirements.in, the stack's top-level packages,
// resolved afresh into an environment of the day, so a night also catches a new upstream release).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { UserError } from '../errors.ts';
import { readRegularFile } from '../files.ts';
import { cacheRoot, repoRoot } from '../paths.ts';

/** Where the environment definitions live: envs/ of the checkout, or LADDER_ENVS_DIR (your own stacks, tests). */
export const envsDir = () =>
  process.env.LADDER_ENVS_DIR ? path.resolve(process.env.LADDER_ENVS_DIR) : path.join(repoRoot, 'envs');
export const MARKER = '.ladder-env.json';
// requirements-nodeps.txt is installed with --no-deps (packages whose own dependencies we must not
// pull, see each file's comment); post-install.sh runs in the finished environment.
export const REQUIREMENT_FILES = ['requirements.txt', 'requirements-nodeps.txt', 'post-install.sh'] as const;
// The latest channel's files: requirements-nodeps.in is optional (else requirements-nodeps.txt).
const LATEST_FILES = [
  'requirements.in',
  'requirements-nodeps.in',
  'requirements-nodeps.txt',
  'post-install.sh',
] as const;

export const CHANNELS = ['pinned', 'latest'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface Stack {
  name: string;
  channel: Channel;
  key: string;
  /** The requirements pip installs, and those it installs with --no-deps (if any). */
  requirements: string;
  nodeps?: string;
  dir: string;
  python: string;
  pythonVersion: string;
  state: 'missing' | 'ready' | 'stale';
  /** Ready environments of this stack built from other requirements or another Python. */
  staleDirs: string[];
}

export function stackNames(): string[] {
  return readdirSync(envsDir(), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(envsDir(), d.name, 'requirements.txt')))
    .map((d) => d.name)
    .sort();
}

export function basePython(): string {
  return process.env.LADDER_PYTHON || 'python3';
}

let cachedPythonVersion: string | undefined;
async function pythonVersion(): Promise<string> {
  if (!cachedPythonVersion) {
    try {
      const { stdout } = await execa(basePython(), [
        '-c',
        'import platform,sys;print(platform.python_version(), sys.platform, platform.machine())',
      ]);
      cachedPythonVersion = stdout.trim();
    } catch {
      throw new UserError(`cannot run Python '${basePython()}': install python3 (>= 3.10) or set LADDER_PYTHON`);
    }
  }
  return cachedPythonVersion;
}

export function envsRoot(): string {
  return path.join(cacheRoot(), 'envs');
}

/**
 * A stack's own packages (lowercase names): requirements.in if it has one, else requirements.txt,
 * whose every line is one. Nothing (an unknown stack) if neither reads.
 */
export function topLevelPackages(name: string): string[] {
  for (const f of ['requirements.in', 'requirements.txt']) {
    const file = path.join(envsDir(), name, f);
    if (!existsSync(file)) continue;
    return readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter((l) => l && !l.startsWith('-'))
      .map((l) => l.split(/[<>=!~;[ ]/)[0]!.toLowerCase());
  }
  return [];
}

/** Today in UTC (YYYY-MM-DD): a latest environment is resolved at most once a day. */
export const today = () => new Date().toISOString().slice(0, 10);

/**
 * Whether `dir` holds a finished environment of stack `name`: its marker is what provisioning writes
 * (the stack's name, the requirements' key when given, the installed packages' freeze) and its
 * interpreter is there. A folder with an empty or planted marker is not ready: its `bin/python` is
 * never run (the cache folder may come from a config file in the working folder).
 */
export function isReady(dir: string, name: string, key?: string): boolean {
  try {
    const m = JSON.parse(readRegularFile(path.join(dir, MARKER))) as Record<string, unknown> | null;
    return (
      m?.name === name &&
      (key === undefined || m.key === key) &&
      Array.isArray(m.freeze) &&
      existsSync(path.join(dir, 'bin', 'python'))
    );
  } catch {
    return false;
  }
}

/**
 * A stack in a channel. A stack without requirements.in has no latest (ipex: archived upstream, so
 * nothing to follow): it stays pinned, and `channel` says so.
 */
export async function describeStack(name: string, wanted: Channel = 'pinned'): Promise<Stack> {
  if (!stackNames().includes(name)) {
    throw new UserError(`unknown environment '${name}' (known: ${stackNames().join(', ')})`);
  }
  const file = (f: string) => path.join(envsDir(), name, f);
  const channel: Channel = wanted === 'latest' && existsSync(file('requirements.in')) ? 'latest' : 'pinned';
  const version = await pythonVersion();
  const hash = createHash('sha256').update(`python ${version}\n`);
  const files = channel === 'pinned' ? REQUIREMENT_FILES : LATEST_FILES;
  for (const f of files) if (existsSync(file(f))) hash.update(`${f}\n${readFileSync(file(f), 'utf8')}`);
  const key = hash.digest('hex').slice(0, 12);
  // pinned: <name>-<key>; latest: <name>-latest-<day>-<key>, a new one each day.
  const prefix = channel === 'pinned' ? `${name}-` : `${name}-latest-`;
  const own = channel === 'pinned' ? /^[0-9a-f]{12}$/ : /^\d{4}-\d{2}-\d{2}-[0-9a-f]{12}$/;
  const dirName = channel === 'pinned' ? `${prefix}${key}` : `${prefix}${today()}-${key}`;
  const dir = path.join(envsRoot(), dirName);
  const ready = (d: string) => isReady(d, name, d === dir ? key : undefined);
  const others = existsSync(envsRoot())
    ? readdirSync(envsRoot())
        .filter((d) => d.startsWith(prefix) && d !== dirName && own.test(d.slice(prefix.length)))
        .map((d) => path.join(envsRoot(), d))
        .filter(ready)
    : [];
  const nodeps = [channel === 'latest' ? 'requirements-nodeps.in' : '', 'requirements-nodeps.txt']
    .filter(Boolean)
    .map(file)
    .find((f) => existsSync(f));
  return {
    name,
    channel,
    key,
    requirements: file(channel === 'pinned' ? 'requirements.txt' : 'requirements.in'),
    ...(nodeps ? { nodeps } : {}),
    dir,
    python: path.join(dir, 'bin', 'python'),
    pythonVersion: version.split(' ')[0] ?? version,
    state: ready(dir) ? 'ready' : others.length ? 'stale' : 'missing',
    staleDirs: others,
  };
}
