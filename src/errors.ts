// One error model. Every error ladder raises on purpose is a LadderError: it keeps its `cause`,
// names the stage and the rung it happened in, and its exitCode becomes the process's exit code.
import { EXIT } from './exit-codes.ts';

/** Where in a run an error happened. */
export type Stage = 'input' | 'provision' | 'start' | 'load' | 'verify' | 'bench' | 'report';

export interface ErrorContext {
  cause?: unknown;
  stage?: Stage;
  rung?: string;
  /** The command that failed, how it ended and its last output lines (pip, the worker). */
  command?: string;
  exitCode?: number;
  signal?: string;
  stderrTail?: string[];
}

export class LadderError extends Error {
  override name = 'LadderError';
  /** The process's exit code when this error ends it. */
  readonly exitCode: number = EXIT.FAILED;
  readonly stage?: Stage;
  readonly rung?: string;
  readonly details: ErrorContext;
  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.details = context;
    this.stage = context.stage;
    this.rung = context.rung;
  }
}

/** A problem with what the user asked for: one line, exit code 2, no stack trace. */
export class UserError extends LadderError {
  override name = 'UserError';
  override readonly exitCode = EXIT.BAD_INPUT;
}

/** A problem running something (pip, the worker): carries the command, how it ended and its last stderr lines. */
export class RunError extends LadderError {
  override name = 'RunError';
}

/** A toggle that did not take effect: the rung fails with the differences, never with a figure. */
export class ToggleError extends RunError {
  override name = 'ToggleError';
  constructor(
    rung: string,
    readonly problems: string[],
  ) {
    super(`rung ${rung}: toggle did not take effect: ${problems.join('; ')}`, { stage: 'verify', rung });
  }
}

/** Keeps the last `size` lines of a stream, for error messages. */
export class TailBuffer {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly size = 20) {}
  push(chunk: string | Buffer): void {
    const text = this.partial + chunk.toString();
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) if (line.trim()) this.lines.push(line);
    if (this.lines.length > this.size) this.lines.splice(0, this.lines.length - this.size);
  }
  tail(n = this.size): string[] {
    const all = this.partial.trim() ? [...this.lines, this.partial] : this.lines;
    return all.slice(-n);
  }
}
