// One virtualenv per backend stack, keyed by its requirements and the Python that builds it.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { UserError } from '../errors.ts';
import { cacheRoot, repoRoot } from '../paths.ts';

/** Where the environment definitions live: envs/ of the checkout, or LADDER_ENVS_DIR (your own stacks, tests). */
export const envsDir = () =>
  process.env.LADDER_ENVS_DIR ? path.resolve(process.env.LADDER_ENVS_DIR) : path.join(repoRoot, 'envs');
export const MARKER = '.ladder-env.json';
// requirements-nodeps.txt is installed with --no-deps (packages whose own dependencies we must not
// pull, see each file's comment); post-install.sh runs in the finished environment.
export const REQUIREMENT_FILES = ['requirements.txt', 'requirements-nodeps.txt', 'post-install.sh'] as const;

export interface Stack {
  name: string;
  key: string;
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

export async function describeStack(name: string): Promise<Stack> {
  if (!stackNames().includes(name)) {
    throw new UserError(`unknown environment '${name}' (known: ${stackNames().join(', ')})`);
  }
  const version = await pythonVersion();
  const hash = createHash('sha256').update(`python ${version}\n`);
  for (const file of REQUIREMENT_FILES) {
    const p = path.join(envsDir(), name, file);
    if (existsSync(p)) hash.update(`${file}\n${readFileSync(p, 'utf8')}`);
  }
  const key = hash.digest('hex').slice(0, 12);
  const dir = path.join(envsRoot(), `${name}-${key}`);
  const ready = (d: string) => existsSync(path.join(d, MARKER));
  const others = existsSync(envsRoot())
    ? readdirSync(envsRoot())
        .filter(
          (d) => d.startsWith(`${name}-`) && d !== `${name}-${key}` && /^[0-9a-f]{12}$/.test(d.slice(name.length + 1)),
        )
        .map((d) => path.join(envsRoot(), d))
        .filter(ready)
    : [];
  return {
    name,
    key,
    dir,
    python: path.join(dir, 'bin', 'python'),
    pythonVersion: version.split(' ')[0] ?? version,
    state: ready(dir) ? 'ready' : others.length ? 'stale' : 'missing',
    staleDirs: others,
  };
}
