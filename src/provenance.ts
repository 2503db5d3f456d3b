// Where a run came from: the checkout's revision, and the scheduler job it ran in (Slurm's variables,
// or ladder fleet's local engine). Recorded in run.json.
import { execaSync } from 'execa';
import { repoRoot } from './paths.ts';

export interface SchedulerInfo {
  engine: 'slurm' | 'local';
  job_id?: string;
  node?: string;
  partition?: string;
  /** The fleet submission (fleet/<id>/manifest.json) and the machine class the job was for. */
  fleet?: string;
  class?: string;
}

/** What the environment says about the job this process runs in (Slurm's variables, ladder fleet's). */
export function schedulerInfo(env = process.env): SchedulerInfo | undefined {
  const fleet = env.LADDER_FLEET || undefined;
  const cls = env.LADDER_FLEET_CLASS || undefined;
  if (env.SLURM_JOB_ID)
    return {
      engine: 'slurm',
      job_id: env.SLURM_JOB_ID,
      node: env.SLURMD_NODENAME || undefined,
      partition: env.SLURM_JOB_PARTITION || undefined,
      fleet,
      class: cls,
    };
  if (env.LADDER_FLEET_JOB) return { engine: 'local', job_id: env.LADDER_FLEET_JOB, fleet, class: cls };
  return undefined;
}

export function gitRevision(): string | undefined {
  try {
    return execaSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot }).stdout.trim();
  } catch {
    return undefined;
  }
}
