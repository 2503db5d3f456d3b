// The local engine: for users without a cluster, the classes' jobs run on this machine one after
// another (never two at once: they would disturb each other), from the same job scripts. Each job's
// state is a small file beside its output, so `fleet status` in another process can read it.
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import PQueue from 'p-queue';
import { writeFileAtomic } from '../files.ts';
import { alive } from '../lock.ts';
import type { Fleet, MachineClass } from './config.ts';
import type { Engine, FleetJob, JobState, JobStatus } from './engine.ts';

const stateFileOf = (output: string) => `${output}.state.json`;

interface StateFile {
  state: JobState;
  pid: number;
  exit_code?: number;
  node: string;
}

export class LocalEngine implements Engine {
  readonly name = 'local' as const;
  private readonly queue = new PQueue({ concurrency: 1 });
  private counter = 0;

  constructor(private readonly host: string) {}

  private write(file: string, s: StateFile): void {
    writeFileAtomic(file, JSON.stringify(s));
  }

  async submit(_fleet: Fleet, cls: MachineClass, script: string, output: string): Promise<string> {
    // Unique within a submission (its manifest), which is where ids are looked up.
    const id = `local-${++this.counter}-${cls.name}`;
    const stateFile = stateFileOf(output);
    this.write(stateFile, { state: 'pending', pid: process.pid, node: this.host });
    void this.queue.add(async () => {
      this.write(stateFile, { state: 'running', pid: process.pid, node: this.host });
      const log = createWriteStream(output);
      const child = execa('bash', [script], {
        reject: false,
        env: { ...process.env, LADDER_FLEET_JOB: id },
        stdout: ['pipe'],
        stderr: ['pipe'],
      });
      child.stdout?.pipe(log, { end: false });
      child.stderr?.pipe(log, { end: false });
      const r = await child;
      log.end();
      this.write(stateFile, {
        state: r.exitCode === 0 ? 'completed' : 'failed',
        pid: process.pid,
        exit_code: r.exitCode,
        node: this.host,
      });
    });
    return id;
  }

  /** Resolves when every submitted job has ended (the local engine's jobs live in this process). */
  idle(): Promise<void> {
    return this.queue.onIdle();
  }

  async status(jobs: FleetJob[]): Promise<Map<string, JobStatus>> {
    const out = new Map<string, JobStatus>();
    for (const job of jobs) {
      if (!job.id) continue;
      const id = job.id;
      const file = stateFileOf(job.output);
      if (!existsSync(file)) {
        out.set(id, { state: 'unknown', raw: 'no state file' });
        continue;
      }
      const s = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
      // A job whose submitting process died never ends by itself: say so.
      const state = (s.state === 'running' || s.state === 'pending') && !alive(s.pid) ? 'failed' : s.state;
      out.set(id, {
        state,
        node: s.node,
        raw:
          state !== s.state
            ? `${s.state}, but its process ${s.pid} is gone`
            : s.exit_code !== undefined
              ? `exit ${s.exit_code}`
              : s.state,
      });
    }
    return out;
  }

  /** Jobs not started yet are dropped; a running one ends with this process (Ctrl-C). */
  async cancel(_jobs: FleetJob[]): Promise<void> {
    this.queue.clear();
  }
}
