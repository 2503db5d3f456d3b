// A lock file holding the owner's pid: a lock whose owner is dead is stale and taken over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function tryLock(file: string): boolean {
  try {
    const fd = openSync(file, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
    rmSync(file, { force: true }); // stale: its owner died
    return tryLock(file);
  }
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
    rmSync(file, { force: true });
  }
}
