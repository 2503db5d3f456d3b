// Where a run writes: checked and created before anything slow starts, never inside the kernel's
// pseudo file systems (a recursive mkdir under /proc loops without end), never over a finished run.
import { existsSync, mkdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from './errors.ts';
import { lockOwner, tryLock } from './lock.ts';

/** The claim a run holds on its folder while it writes there (removed when it ends). */
export const RUN_DIR_LOCK = '.ladder-run.lock';

const PSEUDO = ['/proc', '/sys', '/dev'];

/** The path as the kernel will see it: the deepest existing ancestor resolved, the rest appended. */
function resolved(dir: string): string {
  let head = path.resolve(dir);
  const tail: string[] = [];
  while (!existsSync(head) && path.dirname(head) !== head) {
    tail.unshift(path.basename(head));
    head = path.dirname(head);
  }
  return path.join(realpathSync(head), ...tail);
}

/** Refuses a folder under /proc, /sys or /dev, or one that is a file; names the flag that gave it. */
export function checkWritableDir(dir: string, what: string): string {
  // '' resolves to the working folder: never what someone who typed --out '' meant.
  if (!dir.trim()) throw new UserError(`${what}: an empty path (name a folder)`);
  const real = resolved(dir);
  if (PSEUDO.some((p) => real === p || real.startsWith(`${p}/`)))
    throw new UserError(
      `${what} ${dir}: not a place for results (${real.split('/')[1] ? `/${real.split('/')[1]}` : real} is a kernel file system)`,
    );
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UserError(`${what} ${dir} is a file, not a folder`);
  return path.resolve(dir);
}

/**
 * The one check of a file a command will write (trend.html, a fleet page): its folder is a place for
 * results (not under /proc, /sys or /dev, where a recursive mkdir never ends), and it is not a folder.
 */
export function checkOutFile(file: string, what: string): string {
  if (!file.trim()) throw new UserError(`${what}: an empty path (name a file)`);
  const dir = path.dirname(path.resolve(file));
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new UserError(`${what} ${file}: cannot write there (${dir} is a file, not a folder)`);
  checkWritableDir(dir, what);
  if (existsSync(file) && statSync(file).isDirectory())
    throw new UserError(`${what} ${file} is a folder (name the file to write)`);
  return path.resolve(file);
}

/** True when `child` is `parent` or inside it, once both are resolved. */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(resolved(parent), resolved(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Creates a run's folder and proves it writable. A folder that already holds a run.json is refused
 * unless the run continues it (`resume`) or replaces it (`force`).
 */
export function prepareRunDir(dir: string, o: { what: string; resume?: boolean; force?: boolean }): string {
  const out = checkWritableDir(dir, o.what);
  try {
    mkdirSync(out, { recursive: true });
    const probe = path.join(out, `.write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (err) {
    throw new UserError(
      `${o.what} ${dir}: cannot write there (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      { cause: err },
    );
  }
  // Claimed exclusively until this process ends, and only then checked for a run: two runs given one
  // folder at once would otherwise both pass the check and one run.json would be lost.
  const claim = path.join(out, RUN_DIR_LOCK);
  if (!tryLock(claim)) {
    const owner = lockOwner(claim);
    throw new UserError(
      `${o.what} ${dir}: another ladder run${owner ? ` (pid ${owner.pid})` : ''} is writing there: wait for it, or give another folder`,
    );
  }
  if (existsSync(path.join(out, 'run.json')) && !o.resume && !o.force) {
    throw new UserError(
      `${o.what} ${dir} already holds a run (run.json): give --force to replace it, or another folder`,
    );
  }
  return out;
}

/** A run's time as a folder name: ISO 8601 UTC, milliseconds kept, without the characters file systems dislike. */
export const runStamp = (now = new Date()) => now.toISOString().replace(/:/g, '-').replace('.', '-');

/** A new folder `<stamp>-<label>` under `root`, created here so that two runs never share one. */
export function newRunDir(root: string, label: string): string {
  checkWritableDir(root, 'results folder');
  const stamp = runStamp();
  for (let i = 0; ; i++) {
    const dir = path.join(root, i ? `${stamp}-${i}-${label}` : `${stamp}-${label}`.replace(/-$/, ''));
    if (!isInside(root, dir)) throw new UserError(`run label ${label} would leave ${root}`);
    try {
      mkdirSync(root, { recursive: true });
      mkdirSync(dir); // not recursive: fails if another run took this name first
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new UserError(`cannot create ${dir} (${(err as NodeJS.ErrnoException).code})`, { cause: err });
    }
  }
}
