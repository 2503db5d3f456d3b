// A lock file that two processes can never both hold. Its record (pid and the process's start time,
// so a reused pid is not taken for the owner) is written in full before it is linked into place, so
// nobody ever reads half a record; a stale lock is taken over through a tombstone that only one
// process can create.
import { closeSync, linkSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether a process with this pid exists (EPERM: it does, another user's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Owner {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22). */
  start: string;
}

function startTime(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const me = (): Owner => ({ pid: process.pid, start: startTime('self') ?? '?' });

/** The record a lock held by `pid` holds (for tests that plant a lock). */
export const ownerRecord = (pid: number) => JSON.stringify({ pid, start: startTime(pid) ?? '?' });

function readOwner(file: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as Owner;
    return Number.isInteger(o.pid) && typeof o.start === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

/** The owner recorded in the lock, if that process still runs (same pid, same start time). */
export function lockOwner(file: string): Owner | undefined {
  const o = readOwner(file);
  return o && startTime(o.pid) === o.start ? o : undefined;
}

function linkRecord(file: string): boolean {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(me()));
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file); // atomic, and fails if a lock is there
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    rmSync(tmp, { force: true });
  }
}

// Locks this process holds, released on every exit path (a signal included).
const held = new Set<string>();

export function releaseAllLocks(): void {
  for (const file of held) unlock(file);
}

/**
 * A tombstone lives for microseconds while its taker removes a stale lock; one older than this was
 * left by a taker that died in between, and would block the lock for good: it is removed.
 */
export const TOMBSTONE_MAX_AGE_MS = 60_000;

export function tryLock(file: string, tombstoneMaxAgeMs = TOMBSTONE_MAX_AGE_MS): boolean {
  if (held.has(file) && lockOwner(file)?.pid === process.pid) return true; // ours already
  for (let attempt = 0; attempt < 100; attempt++) {
    if (linkRecord(file)) {
      held.add(file);
      return true;
    }
    const text = (() => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return undefined; // released meanwhile: try again
      }
    })();
    if (text === undefined) continue;
    if (lockOwner(file)) return false;
    // Stale: whoever creates the tombstone of exactly this record may remove it; the others retry.
    const tomb = `${file}.stale-${Buffer.from(text).toString('hex').slice(0, 64)}`;
    try {
      linkSync(file, tomb);
    } catch (err) {
      // ctime is the link's time: a tombstone a live taker holds is younger than any sane limit.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') removeOldTombstone(tomb, tombstoneMaxAgeMs);
      continue;
    }
    try {
      if (readFileSync(tomb, 'utf8') === text) rmSync(file, { force: true });
    } finally {
      rmSync(tomb, { force: true });
    }
  }
  return false;
}

function removeOldTombstone(tomb: string, maxAgeMs: number): void {
  try {
    if (Date.now() - statSync(tomb).ctimeMs >= maxAgeMs) rmSync(tomb, { force: true });
  } catch {
    // gone meanwhile
  }
}

/** Removes the lock if this process holds it. */
export function unlock(file: string): void {
  held.delete(file);
  const o = readOwner(file);
  if (o?.pid === process.pid && o.start === me().start) rmSync(file, { force: true });
}

export async function withLock<T>(file: string, fn: () => Promise<T>, onWait?: () => void): Promise<T> {
  let waited = false;
  while (!tryLock(file)) {
    if (!waited) onWait?.();
    waited = true;
    await sleep(500);
  }
  try {
    return await fn();
  } finally {
    unlock(file);
  }
}
