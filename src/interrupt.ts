// What a signal must not leave behind: process groups of provisioning steps (pip, post-install
// scripts and their grandchildren), and what the user is told. Workers and locks have their own
// registries (worker/session.ts, lock.ts); the CLI's signal handler calls all of them.

const groups = new Set<number>();
let runFile: string | undefined;

/** A child started as the leader of its own process group (execa `detached: true`). */
export function trackGroup(pid: number | undefined): void {
  if (pid) groups.add(pid);
}

export function untrackGroup(pid: number | undefined): void {
  if (pid) groups.delete(pid);
}

/** SIGTERM to every tracked group: the child and whatever it started. */
export function killGroups(): void {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  groups.clear();
}

/** The run.json a run is writing (undefined once it is done, or when no run is going on). */
export function setRunFile(file: string | undefined): void {
  runFile = file;
}

/** What an interrupted command tells the user: where its results are, only when it has any. */
export function interruptedLine(sig: string): string {
  return `ladder: interrupted (${sig})${runFile ? `; results measured so far are in ${runFile}` : ''}`;
}
