// The allocators a rung may preload, as protocol/allocators.json defines them once for both sides:
// the launcher finds and checks the library, doctor installs it, the worker proves it is mapped.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { repoRoot } from '../paths.ts';

interface AllocatorSpec {
  /** File names searched in the system's library folders, in order. */
  libraries: string[];
  /** What a rung's own `library` must be named, symlinks resolved (a regular expression). */
  file: string;
  /** How the worker recognises it in /proc/self/maps (a regular expression, read by probe.py). */
  mapped: string;
  /** The Debian package that installs it. */
  package: string;
  /** The variable `launcher.malloc_conf` is given through (null: the allocator takes none). */
  conf_env: string | null;
  /** How the worker reads those options back as proof ('mallctl'), if it can. */
  conf_readback: 'mallctl' | null;
}

const TABLE = JSON.parse(readFileSync(path.join(repoRoot, 'protocol', 'allocators.json'), 'utf8')) as {
  allocators: Record<string, AllocatorSpec>;
};

/** A rung's `launcher.allocator`: glibc's own, or one of the table's. */
export type Allocator = string;
/** The allocators a rung can preload (not 'default'). */
export const ALLOCATORS: readonly string[] = Object.keys(TABLE.allocators);
/** Every value `launcher.allocator` accepts. */
export const ALLOCATOR_CHOICES: readonly [string, ...string[]] = ['default', ...ALLOCATORS];

export const allocatorSpec = (name: string): AllocatorSpec => {
  const spec = TABLE.allocators[name];
  if (!spec) throw new UserError(`unknown allocator ${name} (known: ${ALLOCATORS.join(', ')})`);
  return spec;
};

/** Whether a file name (symlinks resolved) is the library of `allocator`. */
export const isAllocatorFile = (allocator: string, fileName: string): boolean =>
  new RegExp(allocatorSpec(allocator).file).test(fileName);

const LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
];

/** The system's library of `allocator`, or undefined when it is not installed. */
export function findAllocator(allocator: string): string | undefined {
  for (const dir of LIB_DIRS)
    for (const lib of allocatorSpec(allocator).libraries) {
      const p = path.join(dir, lib);
      if (existsSync(p)) return p;
    }
  return undefined;
}
