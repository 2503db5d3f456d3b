// Several instances of a rung at once, as Intel's multi-instance launchers run them: the cores are
// split into disjoint sets and each worker is pinned to its own (taskset, or numactl if the rung
// binds with it), with as many threads as it has cores. Each instance's binding is then proven
// like any rung's, and the instances' cores must not overlap.
import { readFileSync } from 'node:fs';
import { UserError } from '../errors.ts';
import { type LaunchConfig, parseCores } from './config.ts';

/** The cores this process may run on (its affinity), which the instances share out. */
export function allowedCores(status = '/proc/self/status'): number[] {
  try {
    const line = readFileSync(status, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Cpus_allowed_list:'));
    if (line) return parseCores(line.split(':')[1]!.trim());
  } catch {
    // not Linux: fall through
  }
  throw new UserError('instances: cannot read which cores this process may use (/proc/self/status)');
}

/** `instances` disjoint sets of `perInstance` cores (default: an equal share) out of `pool`. */
export function splitCores(pool: number[], instances: number, perInstance?: number): number[][] {
  const each = perInstance ?? Math.floor(pool.length / instances);
  if (each < 1 || each * instances > pool.length)
    throw new UserError(
      `instances: ${instances} x ${Math.max(1, each)} cores do not fit in the ${pool.length} cores available (${pool.join(',')})`,
    );
  return Array.from({ length: instances }, (_, i) => pool.slice(i * each, (i + 1) * each));
}

/** The rung as one worker per instance; a rung of one instance is left as it is. */
export function instanceRungs<R extends { launcher: LaunchConfig }>(rung: R, pool?: () => number[]): R[] {
  const L = rung.launcher;
  const n = L.instances ?? 1;
  if (n === 1 && L.cores_per_instance === undefined) return [rung];
  const cores = L.cores ? parseCores(L.cores) : (pool ?? allowedCores)();
  return splitCores(cores, n, L.cores_per_instance).map((set) => ({
    ...rung,
    launcher: {
      ...L,
      bind: L.bind === 'numactl' ? 'numactl' : 'taskset',
      cores: set.join(','),
      threads: L.threads ?? set.length,
    },
  }));
}
