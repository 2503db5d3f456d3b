// fleet.yaml: the machine classes of a fleet, the ladder they run, and the results root every node
// sees. The schema below is its one definition.
import path from 'node:path';
import { z } from 'zod';
import { CHANNELS } from '../envs/stacks.ts';
import { UserError } from '../errors.ts';
import { NAME } from '../rungs/ladder.ts';
import { PROFILES } from '../rungs/settings.ts';
import { readYamlFile } from '../yaml-file.ts';

const name = z.string().regex(NAME, 'must be lowercase letters, digits, dots, dashes and underscores');
// Passed to sbatch as one argument each: no white space, nothing a shell or Slurm would split.
const slurmWord = z.string().regex(/^[A-Za-z0-9_.:&|()!*,-]+$/, 'must be a Slurm word (letters, digits, _.:&|()!*,-)');

const classSchema = z
  .object({
    name: name.describe('the class, as reports name it (spr, emr, gnr, zen4)'),
    feature: slurmWord.optional().describe('Slurm constraint (-C): a node feature naming the CPU class'),
    partition: slurmWord.optional().describe('Slurm partition (-p)'),
    account: slurmWord.optional().describe('Slurm account (-A)'),
    time: z
      .string()
      .regex(/^(\d+-)?\d+(:\d{2}){0,2}$/, 'a Slurm time limit like 90, 2:00:00 or 1-00:00:00')
      .optional()
      .describe('Slurm time limit (-t)'),
  })
  .strict();

export const fleetSchema = z
  .object({
    name: name,
    description: z.string().optional(),
    engine: z
      .enum(['slurm', 'local'])
      .default('slurm')
      .describe('who runs the jobs: Slurm, or this machine one class after another'),
    root: z.string().regex(/^\//, 'must be an absolute path every node sees').describe('shared results root'),
    command: z.enum(['nightly', 'reproduce']).default('nightly'),
    ladder: z.string().default('article').describe('ladder name (ladders/) or file'),
    profile: z.enum(Object.keys(PROFILES) as [string, ...string[]]).default('quick'),
    model: z.string().default('synthetic:sd15'),
    envs: z
      .enum(CHANNELS)
      .default('pinned')
      .describe("pinned: each stack's frozen set; latest: its top-level requirements resolved afresh each day"),
    /** More arguments of the ladder command, one word each (`--passes`, `3`). */
    args: z.array(z.string().regex(/^[^\n\0]*$/, 'one line')).default([]),
    /**
     * `node`: each run's machine id is the Slurm node's name. Only for several slurmd on one host
     * (the tests), where every node shares /etc/machine-id.
     */
    machine_id: z.enum(['machine', 'node']).default('machine'),
    classes: z.array(classSchema).min(1),
  })
  .strict()
  .refine((f) => new Set(f.classes.map((c) => c.name)).size === f.classes.length, {
    message: 'two classes have one name',
    path: ['classes'],
  });

export type Fleet = z.infer<typeof fleetSchema> & { file: string };
export type MachineClass = Fleet['classes'][number];

export function loadFleet(file: string): Fleet {
  const { doc, where } = readYamlFile(file, 'fleet file');
  const parsed = fleetSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`${where}: ${issue.path.join('.') || 'the file'}: ${issue.message}`);
  }
  return { ...parsed.data, file: path.resolve(file) };
}
