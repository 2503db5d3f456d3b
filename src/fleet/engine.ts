// The engine that runs a fleet's jobs, chosen by a small interface: ladder writes job scripts,
// calls the engine's own commands and reads results; it never schedules anything itself.
import type { Fleet, MachineClass } from './config.ts';

/** Slurm's job states, reduced to what a user acts on. */
export type JobState = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'timeout' | 'unknown';
export const FINAL: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled', 'timeout']);

export interface FleetJob {
  class: string;
  /** The engine's job id (Slurm's, or local-<n>). */
  id?: string;
  state: JobState;
  /** The node it ran on, when known. */
  node?: string;
  script: string;
  /** The job's own output (stdout and stderr). */
  output: string;
  /** Why it could not be submitted (a class with no such feature): the others still run. */
  error?: string;
  submitted?: string;
}

export interface JobStatus {
  state: JobState;
  node?: string;
  /** The engine's own word (RUNNING, COMPLETED, NODE_FAIL, ...). */
  raw?: string;
}

export interface Engine {
  readonly name: 'slurm' | 'local';
  /** Submits one class's job; throws a RunError (with the engine's message) if the engine refused it. */
  submit(fleet: Fleet, cls: MachineClass, script: string, output: string): Promise<string>;
  /** The state of each submitted job (those with an id), by id. */
  status(jobs: FleetJob[]): Promise<Map<string, JobStatus>>;
  cancel(jobs: FleetJob[]): Promise<void>;
}
