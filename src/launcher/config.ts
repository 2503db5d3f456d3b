// What a rung's `launcher:` may hold: the one definition of a launch configuration (its type is
// inferred from it), the variables a ladder may set, and core lists. The launcher owns these; the
// ladder file's schema (rungs/ladder.ts) embeds them.
import path from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { ALLOCATOR_CHOICES, ALLOCATORS, isAllocatorFile } from './allocators.ts';

/** Linux's largest CPU count (NR_CPUS at most 8192): a core id beyond it is a typo, not a machine. */
export const MAX_CORE = 8191;

/** Why a core list like 0-1,4 is wrong ("" when it is fine): ids within MAX_CORE, ranges ascending. */
export function coresProblem(list: string): string {
  for (const part of list.split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    if (!Number.isInteger(a) || !Number.isInteger(b)) return `${part} is not a core or a range of cores`;
    if (b! > MAX_CORE) return `core ${b} is beyond any machine (at most ${MAX_CORE})`;
    if (a! > b!) return `${part} runs backwards`;
  }
  return '';
}

/** The cores of a list like 0-1,4, sorted; a UserError when the list is wrong. */
export function parseCores(list: string): number[] {
  const problem = coresProblem(list);
  if (problem) throw new UserError(`cores ${list}: ${problem}`);
  const out = new Set<number>();
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a!); c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

// Variables ladder itself owns: the worker's module path and interpreter, the offline switches, the
// allocator and thread settings (set through their own fields, and proven). A ladder file may not set them.
export const OWNED_ENV =
  /^(PYTHON.*|LD_.*|HF_.*|HUGGINGFACE_.*|TRANSFORMERS_.*|DIFFUSERS_.*|MALLOC_CONF|OMP_NUM_THREADS|MKL_NUM_THREADS|LADDER_.*)$/;

// What a ladder file may set: the tuning switches of the libraries measured, nothing else. Variables
// that load code or name files (OPENSSL_CONF, GCONV_PATH, PATH, CXX, any *_DIR or *_PATH) could run
// what the ladder's author chose inside the worker, so an allow-list, with file-naming ones refused.
export const TUNING_ENV =
  /^(OMP_|KMP_|GOMP_|MKL_|OPENBLAS_|DNNL_|ONEDNN_|ZENDNN_|ATEN_|TORCH|PYTORCH_|OV_|TBB_|MALLOC_|JE_|TCMALLOC_|GLIBC_TUNABLES$)/;
export const FILE_ENV =
  /(^|_)(PATH|PATHS|DIR|DIRS|FILE|LIB|LIBS|LIBRARY|CONF|CONFIG|HOME|PLUGIN|PLUGINS|CACHE|XML|PRELOAD)(_|$)/;

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a variable name (letters, digits, underscores)')
  .refine((k) => !OWNED_ENV.test(k), { message: 'is set by ladder itself and cannot be set by a ladder file' })
  .refine((k) => OWNED_ENV.test(k) || (TUNING_ENV.test(k) && !FILE_ENV.test(k)), {
    message:
      'is not a tuning variable a ladder file may set (OMP_, KMP_, GOMP_, MKL_, OPENBLAS_, DNNL_, ONEDNN_, ZENDNN_, ATEN_, TORCH*, PYTORCH_, OV_, TBB_, MALLOC_, JE_, TCMALLOC_, GLIBC_TUNABLES; none naming a file or folder)',
  });

/** "libjemalloc*.so* or libtcmalloc*.so*": what `library` may name, from the allocator table. */
const LIBRARY_NAMES = ALLOCATORS.map((a) => `lib${a}*.so*`).join(' or ');

export const launcherFields = z
  .object({
    allocator: z.enum(ALLOCATOR_CHOICES).describe('allocator preloaded through LD_PRELOAD (protocol/allocators.json)'),
    malloc_conf: z.string().max(1000).optional().describe('jemalloc tuning (MALLOC_CONF); white space is stripped'),
    threads: z
      .number()
      .int('must be a positive integer')
      .min(1, 'must be a positive integer')
      .max(4096, 'must be at most 4096')
      .optional()
      .describe('OMP_NUM_THREADS / MKL_NUM_THREADS'),
    env: z
      .record(envName, z.string().max(10000))
      .optional()
      .describe('extra environment variables of the worker (not those ladder sets itself)'),
    library: z
      .string()
      // One path: LD_PRELOAD splits at ':' and white space, so a separator would preload a second file.
      .regex(/^\/[^\s:]+$/, "must be one absolute path, without ':' or white space")
      .optional()
      .describe(`allocator library to preload instead of the system one (${LIBRARY_NAMES})`),
    bind: z.enum(['none', 'numactl', 'taskset']).optional().describe('pin the worker to `cores`'),
    memory_limit_bytes: z
      .number()
      .int()
      .min(2 ** 26)
      .max(2 ** 50)
      .optional()
      .describe("cap on the worker's address space (prlimit --as): past it, allocations fail as out of memory"),
    cores: z
      .string()
      .regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, 'a core list like 0-1 or 0,2')
      .superRefine((list, ctx) => {
        const problem = coresProblem(list);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    instances: z
      .number()
      .int('must be a positive integer')
      .min(1, 'must be a positive integer')
      .max(256, 'must be at most 256')
      .optional()
      .describe('workers run at once, each pinned to its own cores (`cores`, or all allowed, split): throughput'),
    cores_per_instance: z
      .number()
      .int('must be a positive integer')
      .min(1, 'must be a positive integer')
      .max(4096, 'must be at most 4096')
      .optional()
      .describe('cores of each instance (default: an equal share)'),
  })
  .strict();

export const launcherSchema = launcherFields
  // With instances, ladder splits the cores and binds each instance itself.
  .refine((l) => !l.bind || l.bind === 'none' || l.cores !== undefined || (l.instances ?? 1) > 1, {
    message: 'a core list like 0-1 or 0,2 is needed with bind',
    path: ['cores'],
  })
  .refine((l) => !(l.instances && l.instances > 1 && l.bind === 'none'), {
    message: 'instances are always pinned to their own cores: use taskset or numactl (or leave bind out)',
    path: ['bind'],
  })
  // `library` preloads a file into the worker: only the allocator the rung names, by its file name.
  .refine(
    (l) => !l.library || (ALLOCATORS.includes(l.allocator) && isAllocatorFile(l.allocator, path.basename(l.library))),
    {
      message: `must be the library of the allocator asked (${LIBRARY_NAMES})`,
      path: ['library'],
    },
  );

/** A rung's launch configuration, as its schema defines it. */
export type LaunchConfig = z.infer<typeof launcherFields>;
