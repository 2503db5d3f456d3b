// Reading what a user or another machine handed us, and writing what we produce: the only two ways
// ladder touches a file it did not create this second.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

/**
 * A regular file's text. Opened without blocking and checked before it is read: a FIFO or a device
 * in place of a run.json or config file would otherwise block forever (and ignore SIGTERM). Throws
 * with code ENOENT, EACCES... or ENOTREG.
 */
export function readRegularFile(file: string): string {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw Object.assign(new Error(`${file}: not a regular file`), { code: 'ENOTREG' });
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** How a read error reads in one line: "no such file", "not a regular file", "cannot read it (EACCES)". */
export function readProblem(err: unknown, what = 'file'): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `no such ${what}`;
  if (code === 'ENOTREG') return 'not a regular file';
  if (code === 'EISDIR') return 'is a folder, not a file';
  return `cannot read it (${code ?? (err as Error).message})`;
}

/**
 * Write, fsync, rename: a killed run leaves the previous complete file, never half of one. The
 * temporary file is created exclusively and never through a symlink; the rename replaces a symlink
 * at `file` instead of writing through it. Every file ladder writes goes through here.
 */
export function writeFileAtomic(file: string, data: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    rmSync(tmp, { force: true });
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true }); // a full disk leaves no partial .tmp behind
    throw err;
  }
}

export function writeJsonAtomic(file: string, data: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(data, null, 2)}\n`);
}
