// One worker process and its socket: start, say hello, run jobs, notice death and hangs.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa, type ResultPromise } from 'execa';
import * as zmq from 'zeromq';
import { RunError, TailBuffer, UserError } from '../errors.ts';
import type { LaunchPlan } from '../launcher/launch.ts';
import { lockOwner, ownerRecord } from '../lock.ts';

const OWNER_FILE = 'owner';

import { decode, encode, HEARTBEAT_INTERVAL_MS, type Message, message } from '../protocol/wire.ts';

export interface SessionOptions {
  rung: string;
  /** Builds the launch plan once the private endpoint exists. */
  plan: (endpoint: string) => LaunchPlan;
  /** Worker silent for this long = hung (missed heartbeats). */
  heartbeatTimeoutMs?: number;
  /** Time allowed from spawn to hello (imports of torch and friends). */
  startTimeoutMs?: number;
  /** Echo the worker's stderr as it comes. */
  verbose?: boolean;
}

export type ProgressHandler = (msg: Message) => void;

interface PendingJob {
  id: string;
  resolve: (result: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  onProgress?: ProgressHandler;
  started: number;
}

const live = new Set<WorkerSession>();

/** The longest delay setTimeout honours (2^31 - 1 ms, 24.8 days): beyond it Node fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A deadline in seconds as a setTimeout delay: longer ones are held at the largest (no run is that long). */
export const timerMs = (seconds: number): number => Math.min(Math.max(0, seconds * 1000), MAX_TIMER_MS);

/** Kills every live worker: for Ctrl-C and controller errors, so no Python process is left behind. */
export function killAllWorkers(): void {
  for (const s of live) s.kill();
}

/** Socket folders (`ladder-*` with an owner record) whose controller is gone: left by a killed run. */
export function removeStaleDirs(): void {
  for (const base of new Set([os.tmpdir(), '/tmp'])) {
    let names: string[];
    try {
      names = readdirSync(base).filter((n) => n.startsWith('ladder-'));
    } catch {
      continue;
    }
    for (const n of names) {
      const owner = path.join(base, n, OWNER_FILE);
      if (existsSync(owner) && !lockOwner(owner)) rmSync(path.join(base, n), { recursive: true, force: true });
    }
  }
}

export class WorkerSession {
  hello!: Message;
  readonly stderr = new TailBuffer(30);
  private router = new zmq.Router({ mandatory: true });
  private identity?: Buffer;
  // Liveness runs on the monotonic clock: a step of the wall clock must not make a worker look hung.
  private lastSeen = performance.now();
  private pending?: PendingJob;
  private jobCounter = 0;
  private child!: ResultPromise;
  private dir: string;
  private timer?: NodeJS.Timeout;
  private deadline?: NodeJS.Timeout;
  private closing = false;
  private failure?: Error;
  private failListeners: ((err: Error) => void)[] = [];

  private constructor(private readonly opts: SessionOptions) {
    // ipc endpoint in a directory only this user can open (mkdtemp makes it 0700). A socket path has
    // at most 107 bytes: under a long TMPDIR the directory goes to /tmp instead.
    const base = path.join(os.tmpdir(), 'ladder-XXXXXX', 'ctl.sock').length <= 100 ? os.tmpdir() : '/tmp';
    this.dir = mkdtempSync(path.join(base, 'ladder-'));
    writeFileSync(path.join(this.dir, OWNER_FILE), ownerRecord(process.pid));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(opts: SessionOptions): Promise<WorkerSession> {
    const s = new WorkerSession(opts);
    live.add(s);
    try {
      await s.boot();
      return s;
    } catch (err) {
      s.kill();
      throw err;
    }
  }

  private async boot(): Promise<void> {
    const endpoint = `ipc://${path.join(this.dir, 'ctl.sock')}`;
    await this.router.bind(endpoint);
    const plan = this.opts.plan(endpoint);
    this.child = execa(plan.command, plan.args, {
      env: plan.env,
      extendEnv: false,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      cleanup: true,
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr.push(chunk);
      if (this.opts.verbose) process.stderr.write(chunk);
    });
    this.child.stdout?.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    void this.child.then((r) => this.onExit(r.exitCode, r.signal));
    void this.receiveLoop();
    const helloTimeout = this.opts.startTimeoutMs ?? 180_000;
    this.hello = await this.waitForHello(helloTimeout);
    this.lastSeen = performance.now();
    this.timer = setInterval(() => this.tick(), HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  private helloWaiter?: (m: Message) => void;

  private waitForHello(timeoutMs: number): Promise<Message> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () =>
          this.fail(
            new RunError(`worker for rung ${this.opts.rung} did not say hello within ${timeoutMs / 1000} s`, {
              stderrTail: this.stderr.tail(10),
            }),
          ),
        timeoutMs,
      );
      this.onFail((err) => {
        clearTimeout(t);
        reject(err);
      });
      this.helloWaiter = (m) => {
        clearTimeout(t);
        resolve(m);
      };
    });
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const [id, data] of this.router) {
        if (!id || !data) continue;
        let msg: Message;
        try {
          msg = decode(data, 'worker');
        } catch (err) {
          this.kill();
          this.fail(
            new RunError(`worker for rung ${this.opts.rung} broke the protocol: ${(err as Error).message}`, {
              cause: err,
            }),
          );
          return;
        }
        this.lastSeen = performance.now();
        this.handle(id, msg);
      }
    } catch (err) {
      if (!this.closing)
        this.fail(new RunError(`socket for rung ${this.opts.rung} failed: ${(err as Error).message}`, { cause: err }));
    }
  }

  private handle(id: Buffer, msg: Message): void {
    switch (msg.type) {
      case 'hello':
        this.identity = id;
        this.helloWaiter?.(msg);
        return;
      case 'progress':
        if (this.pending && msg.job === this.pending.id) this.pending.onProgress?.(msg);
        return;
      case 'done':
      case 'failed': {
        const job = this.pending;
        if (!job || msg.job !== job.id) return;
        this.pending = undefined;
        clearTimeout(this.deadline);
        if (msg.type === 'done') job.resolve(msg.result as Record<string, unknown>);
        else {
          // Out of memory says so, with how much the worker had when it happened.
          const oom = /MemoryError$/.test(String(msg.error_type))
            ? `out of memory (peak RSS ${(Number(msg.peak_rss_bytes) / 2 ** 30).toFixed(2)} GiB): `
            : '';
          const text = `rung ${this.opts.rung}: ${oom}${String(msg.error)}`;
          const err = msg.user_error
            ? new UserError(text)
            : new RunError(text, { stderrTail: String(msg.traceback).trim().split('\n').slice(-8) });
          job.reject(err);
        }
        return;
      }
      default:
        return; // heartbeat, bye: liveness only
    }
  }

  private tick(): void {
    if (this.failure || this.closing) return;
    const silent = performance.now() - this.lastSeen;
    const limit = this.opts.heartbeatTimeoutMs ?? 30_000;
    if (silent > limit) {
      this.kill();
      this.fail(
        new RunError(`worker for rung ${this.opts.rung} hung: no heartbeat for ${(silent / 1000).toFixed(1)} s`, {
          stderrTail: this.stderr.tail(10),
        }),
      );
      return;
    }
    if (this.identity) void this.send(message('heartbeat')).catch(() => undefined);
  }

  private async send(msg: Message): Promise<void> {
    if (!this.identity) throw new RunError(`worker for rung ${this.opts.rung} is not connected`);
    await this.router.send([this.identity, encode(msg, 'controller')]);
  }

  private onExit(exitCode: number | undefined, signal: string | undefined): void {
    if (this.closing && exitCode === 0) return;
    const how = signal ? signal : `exit code ${exitCode}`;
    const tail = this.stderr.tail(10);
    const text = this.hello
      ? `worker for rung ${this.opts.rung} died: ${how}`
      : `worker for rung ${this.opts.rung} failed to start: ${how}`;
    this.fail(new RunError(text, { exitCode, signal, stderrTail: tail }));
  }

  private onFail(listener: (err: Error) => void): void {
    if (this.failure) listener(this.failure);
    else this.failListeners.push(listener);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.pending?.reject(err);
    this.pending = undefined;
    clearTimeout(this.deadline);
    for (const l of this.failListeners.splice(0)) l(err);
    this.cleanup();
  }

  /** Runs one job (load, bench) and resolves with the worker's result. */
  async job(
    type: 'load' | 'bench' | 'roofline' | 'probe' | 'explain',
    fields: Record<string, unknown>,
    onProgress?: ProgressHandler,
  ): Promise<Record<string, unknown>> {
    if (this.failure) throw this.failure;
    if (this.pending) throw new RunError(`worker for rung ${this.opts.rung}: one job at a time`);
    const id = `${type}-${++this.jobCounter}`;
    const result = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.pending = { id, resolve, reject, onProgress, started: performance.now() };
    });
    await this.send(message(type, { job: id, ...fields }));
    return result;
  }

  /**
   * (Re)arms the running job's deadline, `seconds` from now: past it the worker is killed and the job
   * fails with "exceeded". Heartbeats come from the worker's I/O thread, so only a deadline catches a
   * main thread stuck in C code.
   */
  setDeadline(seconds: number, why: string): void {
    const job = this.pending;
    if (!job) return;
    clearTimeout(this.deadline);
    const total = (performance.now() - job.started) / 1000 + seconds;
    this.deadline = setTimeout(() => {
      if (this.pending !== job) return;
      this.kill();
      this.fail(
        new RunError(
          `worker for rung ${this.opts.rung}: job ${job.id.split('-')[0]} exceeded ${Math.round(total)} s (${why})`,
          {
            stderrTail: this.stderr.tail(10),
          },
        ),
      );
    }, timerMs(seconds));
    this.deadline.unref();
  }

  /** Asks the worker to exit and waits for it (killing it if it does not go). */
  async shutdown(timeoutMs = 10_000): Promise<void> {
    if (this.failure) return;
    this.closing = true;
    try {
      await this.send(message('shutdown'));
      const t = setTimeout(() => this.kill(), timeoutMs);
      await this.child;
      clearTimeout(t);
    } finally {
      this.cleanup();
    }
  }

  kill(): void {
    this.closing = true;
    if (this.child && this.child.exitCode === null && !this.child.killed) this.child.kill('SIGKILL');
    this.cleanup();
  }

  private cleanup(): void {
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.deadline);
    if (!this.router.closed) this.router.close();
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}
