// Slurm as a fleet's engine: sbatch, squeue, sacct (or scontrol where accounting is off), scancel.
// Each class is one exclusive job on a node with the class's feature; `--dependency=singleton` with
// one job name per class keeps two nights of one class from overlapping.
import { execa } from 'execa';
import { RunError, UserError } from '../errors.ts';
import { findTool } from '../launcher/launch.ts';
import type { Fleet, MachineClass } from './config.ts';
import type { Engine, FleetJob, JobState, JobStatus } from './engine.ts';

/** Slurm's state words (squeue %T, sacct State, scontrol JobState) as a JobState. */
export function jobState(raw: string): JobState {
  const word = raw.trim().split(/\s+/)[0]!.toUpperCase();
  if (/^(PENDING|CONFIGURING|REQUEUED|REQUEUE_HOLD|RESV_DEL_HOLD|SUSPENDED|STAGE_OUT)$/.test(word)) return 'pending';
  if (/^(RUNNING|COMPLETING|SIGNALING)$/.test(word)) return 'running';
  if (word === 'COMPLETED') return 'completed';
  if (word === 'CANCELLED') return 'cancelled';
  if (word === 'TIMEOUT' || word === 'DEADLINE') return 'timeout';
  if (/^(FAILED|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|PREEMPTED|REVOKED|SPECIAL_EXIT)$/.test(word)) return 'failed';
  return 'unknown';
}

/** The job name of a class: one per fleet and class, for `--dependency=singleton`. */
export const jobName = (fleet: Fleet, cls: MachineClass) => `ladder-${fleet.name}-${cls.name}`;

/** sbatch's arguments for a class (without the script). */
export function sbatchArgs(fleet: Fleet, cls: MachineClass, output: string): string[] {
  return [
    '--parsable',
    '--exclusive',
    `--job-name=${jobName(fleet, cls)}`,
    '--dependency=singleton',
    `--output=${output}`,
    ...(cls.feature ? [`--constraint=${cls.feature}`] : []),
    ...(cls.partition ? [`--partition=${cls.partition}`] : []),
    ...(cls.account ? [`--account=${cls.account}`] : []),
    ...(cls.time ? [`--time=${cls.time}`] : []),
  ];
}

function tool(name: string): string {
  const t = findTool(name);
  if (!t)
    throw new UserError(
      `fleet: ${name} not found: Slurm's commands are needed on this machine (apt-get install slurm-client)`,
    );
  return t;
}

async function slurm(name: string, args: string[]): Promise<string> {
  const r = await execa(tool(name), args, { reject: false, all: true, env: process.env });
  if (r.exitCode !== 0)
    throw new RunError(`${name}: ${(r.all ?? '').trim().split('\n').pop() || `exit ${r.exitCode}`}`, {
      command: [name, ...args].join(' '),
      exitCode: r.exitCode,
      stderrTail: (r.all ?? '').trim().split('\n').slice(-10),
    });
  return r.stdout;
}

/** `JobId=12 JobName=x JobState=COMPLETED ... NodeList=n1`: one line per job of `scontrol -o show job`. */
export function parseScontrol(text: string): Map<string, JobStatus> {
  const out = new Map<string, JobStatus>();
  for (const line of text.split('\n')) {
    const field = (k: string) => new RegExp(`(?:^|\\s)${k}=(\\S*)`).exec(line)?.[1];
    const id = field('JobId');
    const raw = field('JobState');
    if (!id || !raw) continue;
    const node = field('NodeList');
    out.set(id, { state: jobState(raw), raw, node: node && node !== '(null)' ? node : undefined });
  }
  return out;
}

export class SlurmEngine implements Engine {
  readonly name = 'slurm' as const;

  async submit(fleet: Fleet, cls: MachineClass, script: string, output: string): Promise<string> {
    const out = await slurm('sbatch', [...sbatchArgs(fleet, cls, output), script]);
    // --parsable: "<id>" or "<id>;<cluster>".
    const id = out.trim().split(';')[0]!;
    if (!/^\d+$/.test(id)) throw new RunError(`sbatch: unexpected answer '${out.trim()}'`);
    return id;
  }

  async status(jobs: FleetJob[]): Promise<Map<string, JobStatus>> {
    const ids = jobs.flatMap((j) => (j.id ? [j.id] : []));
    const out = new Map<string, JobStatus>();
    if (!ids.length) return out;
    // Pending and running jobs: squeue. Finished ones leave squeue: sacct if accounting is on,
    // else scontrol, which knows them for MinJobAge after they end.
    const q = await slurm('squeue', ['-h', '-o', '%i|%T|%N', '-j', ids.join(',')]).catch(() => '');
    for (const line of q.split('\n')) {
      const [id, raw, node] = line.trim().split('|');
      if (id && raw) out.set(id, { state: jobState(raw), raw, node: node || undefined });
    }
    const rest = ids.filter((id) => !out.has(id));
    if (!rest.length) return out;
    const acct = await slurm('sacct', ['-n', '-P', '-X', '-j', rest.join(','), '-o', 'JobID,State,NodeList']).catch(
      () => undefined,
    );
    for (const line of (acct ?? '').split('\n')) {
      const [id, raw, node] = line.trim().split('|');
      if (id && raw && rest.includes(id)) out.set(id, { state: jobState(raw), raw, node: node || undefined });
    }
    for (const id of rest.filter((x) => !out.has(x))) {
      const s = await slurm('scontrol', ['-o', 'show', 'job', id]).catch(() => '');
      const found = parseScontrol(s).get(id);
      out.set(id, found ?? { state: 'unknown', raw: 'not known to squeue, sacct or scontrol' });
    }
    return out;
  }

  async cancel(jobs: FleetJob[]): Promise<void> {
    const ids = jobs.flatMap((j) => (j.id ? [j.id] : []));
    if (ids.length) await slurm('scancel', ids);
  }
}
