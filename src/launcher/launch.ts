// How a worker starts: interpreter, environment (allocator preload, MALLOC_CONF, threads), binding.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RunError } from '../errors.ts';
import { repoRoot } from '../paths.ts';
import { WIRE } from '../protocol/wire.ts';

export type Allocator = 'default' | 'jemalloc' | 'tcmalloc';

export interface LaunchConfig {
  allocator: Allocator;
  /** jemalloc tuning (MALLOC_CONF), white space stripped; unset leaves jemalloc's own defaults. */
  malloc_conf?: string;
  /** OMP_NUM_THREADS / MKL_NUM_THREADS; unset leaves each library's own default. */
  threads?: number;
  /** Extra environment variables the rung needs. */
  env?: Record<string, string>;
  /** Explicit allocator library to preload instead of the one found in the system paths. */
  library?: string;
  /** Pin the worker to `cores` with numactl or taskset. */
  bind?: 'none' | 'numactl' | 'taskset';
  cores?: string;
  /** Cap on the worker's address space (prlimit --as). */
  memory_limit_bytes?: number;
  /** Workers run at once, each pinned to its own cores (launcher/instances.ts): throughput. */
  instances?: number;
  /** Cores of each instance (default: an equal share of `cores`, or of all the cores allowed). */
  cores_per_instance?: number;
}

export interface LaunchPlan {
  command: string;
  args: string[];
  env: Record<string, string>;
}

// Variables that change what is measured (protocol/wire.json's `measured_env`, the one definition the
// worker reports from) and Python's own: never inherited from the user's shell, only set by the rung.
// ladder's own LADDER_* settings pass.
const MEASURED = new RegExp(WIRE.measured_env ?? '^(LD_PRELOAD|MALLOC_CONF|OMP_.*|KMP_.*|MKL_.*)$');
export const inherited = (name: string) => name.startsWith('LADDER_') || !(MEASURED.test(name) || /^PYTHON/.test(name));

export const ALLOCATOR_LIBS: Record<Exclude<Allocator, 'default'>, string[]> = {
  jemalloc: ['libjemalloc.so.2', 'libjemalloc.so'],
  tcmalloc: ['libtcmalloc_minimal.so.4', 'libtcmalloc.so.4', 'libtcmalloc.so'],
};
export const ALLOCATOR_PACKAGES: Record<Exclude<Allocator, 'default'>, string> = {
  jemalloc: 'libjemalloc2',
  tcmalloc: 'libtcmalloc-minimal4',
};
const LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
];

export function findAllocator(name: Exclude<Allocator, 'default'>): string | undefined {
  for (const dir of LIB_DIRS)
    for (const lib of ALLOCATOR_LIBS[name]) {
      const p = path.join(dir, lib);
      if (existsSync(p)) return p;
    }
  return undefined;
}

export function launchPlan(
  python: string,
  cfg: LaunchConfig,
  endpoint: string,
  rung: string,
  base = process.env,
  backend?: string,
): LaunchPlan {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && inherited(k)) env[k] = v;
  env.PYTHONPATH = path.join(repoRoot, 'python');
  env.PYTHONUNBUFFERED = '1';
  // No hub here: never let a load wait on the network. A model folder is data, never code.
  env.HF_HUB_OFFLINE = '1';
  env.TRANSFORMERS_OFFLINE = '1';
  env.DIFFUSERS_DISABLE_REMOTE_CODE = '1';
  env.HF_DATASETS_TRUST_REMOTE_CODE = '0';
  if (cfg.allocator !== 'default') {
    // An explicit library is preloaded as given: if the loader ignores it, the worker's proof says so.
    const lib = cfg.library ?? findAllocator(cfg.allocator);
    if (!lib) {
      throw new RunError(
        `rung ${rung}: ${cfg.allocator} library not found (install it: apt-get install ${ALLOCATOR_PACKAGES[cfg.allocator]})`,
      );
    }
    env.LD_PRELOAD = lib;
    // oneTBB (OpenVINO's threading) dlopens its topology library with RTLD_DEEPBIND, which binds it
    // to glibc's malloc beside the preloaded one: `free(): invalid pointer` in ov.Core(). oneTBB's
    // documented switch for malloc replacement turns that off ("Dynamic Malloc Replacement" in its
    // limitations). PyTorch does not use TBB: the torch rungs run as before.
    env.TBB_ENABLE_SANITIZERS = '1';
    if (cfg.allocator === 'jemalloc' && cfg.malloc_conf) env.MALLOC_CONF = cfg.malloc_conf.replace(/\s+/g, '');
  }
  if (cfg.threads !== undefined) {
    env.OMP_NUM_THREADS = String(cfg.threads);
    env.MKL_NUM_THREADS = String(cfg.threads);
  }
  Object.assign(env, cfg.env ?? {});
  // The worker imports its backend (and the backend's libraries) before it says hello.
  const worker = [
    python,
    '-m',
    'ladder_worker',
    '--endpoint',
    endpoint,
    '--rung',
    rung,
    ...(backend ? ['--backend', backend] : []),
  ];
  // Each wrapper execs the next, so the worker keeps the pid and the parent the controller watches.
  const bind = cfg.bind ?? 'none';
  let argv = worker;
  if (bind !== 'none') {
    const tool = needTool(bind, rung, bind === 'numactl' ? 'numactl' : 'util-linux');
    argv = bind === 'numactl' ? [tool, '-C', cfg.cores!, '--', ...argv] : [tool, '-c', cfg.cores!, ...argv];
  }
  if (cfg.memory_limit_bytes !== undefined) {
    argv = [needTool('prlimit', rung, 'util-linux'), `--as=${cfg.memory_limit_bytes}`, '--', ...argv];
  }
  return { command: argv[0]!, args: argv.slice(1), env };
}

function needTool(name: string, rung: string, pkg: string): string {
  const tool = findTool(name);
  if (!tool) throw new RunError(`rung ${rung}: ${name} not found (install it: apt-get install ${pkg})`);
  return tool;
}

export function findTool(name: string, pathVar = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...pathVar.split(':'), '/usr/bin', '/usr/sbin', '/bin']) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}
