/** A problem with what the user asked for: one line, exit code 2, no stack trace. */
export class UserError extends Error {
  override name = 'UserError';
  readonly exitCode = 2;
}

/** A problem running something (pip, the worker): carries the command, how it ended and its last stderr lines. */
export class RunError extends Error {
  override name = 'RunError';
  readonly exitCode: number = 1;
  constructor(
    message: string,
    readonly details: { command?: string; exitCode?: number; signal?: string; stderrTail?: string[] } = {},
  ) {
    super(message);
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
