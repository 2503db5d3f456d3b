// How a worker starts: interpreter, environment (allocator preload, MALLOC_CONF, threads), binding.
import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { RunError } from '../errors.ts';
import { repoRoot } from '../paths.ts';
import { WIRE } from '../protocol/wire.ts';
import { allocatorSpec, findAllocator, isAllocatorFile } from './allocators.ts';
import type { LaunchConfig } from './config.ts';

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

/**
 * What LD_PRELOAD gets for a rung's explicit `library`: one absolute path (the loader splits
 * LD_PRELOAD at ':' and white space, so a separator would preload a second file), resolved, whose
 * real file is the allocator's library. A path that does not exist is passed as given: the loader
 * ignores it, and the worker's proof fails the rung.
 */
export function preloadLibrary(allocator: string, library: string, rung: string): string {
  if (!/^\/[^\s:]+$/.test(library))
    throw new RunError(`rung ${rung}: launcher.library must be one absolute path, without ':' or white space`);
  let real: string;
  try {
    real = realpathSync(library);
  } catch {
    return library;
  }
  if (!statSync(real).isFile() || !isAllocatorFile(allocator, path.basename(real)))
    throw new RunError(
      `rung ${rung}: launcher.library ${library} is ${real}, not a ${allocator} library (lib${allocator}*.so*)`,
    );
  return real;
}

export function launchPlan(
  python: string,
  cfg: LaunchConfig,
  endpoint: string,
  rung: string,
  base = process.env,
  backend?: string,
): LaunchPlan {
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
  return launchProgram(worker, cfg, rung, base);
}

/** `program` started as a rung's worker is: the same environment, binding and memory limit. */
export function launchProgram(program: string[], cfg: LaunchConfig, rung: string, base = process.env): LaunchPlan {
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
    const lib =
      cfg.library !== undefined ? preloadLibrary(cfg.allocator, cfg.library, rung) : findAllocator(cfg.allocator);
    if (!lib) {
      throw new RunError(
        `rung ${rung}: ${cfg.allocator} library not found (install it: apt-get install ${allocatorSpec(cfg.allocator).package})`,
      );
    }
    env.LD_PRELOAD = lib;
    // oneTBB (OpenVINO's threading) dlopens its topology library with RTLD_DEEPBIND, which binds it
    // to glibc's malloc beside the preloaded one: `free(): invalid pointer` in ov.Core(). oneTBB's
    // documented switch for malloc replacement turns that off ("Dynamic Malloc Replacement" in its
    // limitations). PyTorch does not use TBB: the torch rungs run as before.
    env.TBB_ENABLE_SANITIZERS = '1';
    const confEnv = allocatorSpec(cfg.allocator).conf_env;
    if (confEnv && cfg.malloc_conf) env[confEnv] = cfg.malloc_conf.replace(/\s+/g, '');
  }
  if (cfg.threads !== undefined) {
    env.OMP_NUM_THREADS = String(cfg.threads);
    env.MKL_NUM_THREADS = String(cfg.threads);
  }
  Object.assign(env, cfg.env ?? {});
  // Each wrapper execs the next, so the worker keeps the pid and the parent the controller watches.
  const bind = cfg.bind ?? 'none';
  let argv = program;
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
