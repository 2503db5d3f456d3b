// The `ladder` process: what belongs to the process rather than to one command line.
import { hideBin } from 'yargs/helpers';
import { main } from './cli.ts';
import { interruptedLine, killGroups } from './interrupt.ts';
import { releaseAllLocks } from './lock.ts';
import { killAllWorkers, removeStaleDirs } from './worker/session.ts';

removeStaleDirs(); // socket folders of runs that died without cleaning up

// `ladder rungs | head` closes our stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    killAllWorkers(); // leave no Python process behind, and no socket folder
    killGroups(); // nor a provisioning step's grandchildren
    releaseAllLocks(); // nor a lock that the next run would have to judge stale
    console.error(interruptedLine(sig));
    process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[sig]);
  });
}

process.exitCode = await main(hideBin(process.argv));
