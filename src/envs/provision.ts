import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { RunError, TailBuffer } from '../errors.ts';
import { writeJsonAtomic } from '../files.ts';
import { trackGroup, untrackGroup } from '../interrupt.ts';
import { withLock } from '../lock.ts';
import { checkWritableDir } from '../out-dir.ts';
import { basePython, type Channel, describeStack, envsDir, MARKER, type Stack } from './stacks.ts';

export type Log = (line: string) => void;

/** Runs a command, streaming condensed progress; on failure throws with the command and its output tail. */
async function step(command: string, args: string[], log: Log, env?: Record<string, string>): Promise<void> {
  const tail = new TailBuffer(25);
  // Its own process group, so that an interrupt stops what it started too (pip's builds, a
  // post-install script's children).
  const child = execa(command, args, { all: true, reject: false, env, stdin: 'ignore', detached: true });
  trackGroup(child.pid);
  child.all?.on('data', (chunk: Buffer) => {
    tail.push(chunk);
    // pip is chatty: show what it is fetching and installing, nothing else.
    for (const line of chunk.toString().split('\n')) {
      if (/^(Collecting|Installing collected|Successfully installed)/.test(line)) log(`  ${line.slice(0, 160)}`);
    }
  });
  const result = await child;
  untrackGroup(child.pid);
  if (result.exitCode !== 0) {
    throw new RunError(`command failed (exit ${result.exitCode ?? result.signal}): ${[command, ...args].join(' ')}`, {
      command: [command, ...args].join(' '),
      exitCode: result.exitCode,
      stderrTail: tail.tail(),
    });
  }
}

/** Ensures the stack's environment exists and is current; returns it ready to use. */
export async function provision(
  name: string,
  log: Log,
  opts: { force?: boolean; channel?: Channel } = {},
): Promise<Stack> {
  const channel = opts.channel ?? 'pinned';
  let stack = await describeStack(name, channel);
  if (channel !== stack.channel)
    log(`environment '${name}' has no requirements.in: it stays pinned under --envs latest`);
  if (stack.state === 'ready' && !opts.force) return stack;
  checkWritableDir(path.dirname(stack.dir), 'the cache folder (LADDER_CACHE_DIR)');
  mkdirSync(path.dirname(stack.dir), { recursive: true });
  return withLock(`${stack.dir}.lock`, async () => {
    stack = await describeStack(name, channel); // another process may have built it while we waited
    if (stack.state === 'ready' && !opts.force) return stack;
    const started = Date.now();
    log(
      `provisioning environment '${name}'${channel === 'latest' ? ' (latest: top-level requirements resolved afresh)' : ''} in ${stack.dir}${stack.state === 'stale' && channel === 'pinned' ? ' (requirements changed)' : ''}`,
    );
    // A venv is not relocatable, so it is built in place and the marker written last:
    // a directory without the marker is an interrupted build and is started over.
    rmSync(stack.dir, { recursive: true, force: true });
    const pipEnv = { PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
    await step(basePython(), ['-m', 'venv', stack.dir], log);
    const pip = [stack.python, '-m', 'pip'] as const;
    await step(pip[0], [...pip.slice(1), 'install', '-r', stack.requirements], log, pipEnv);
    if (stack.nodeps) await step(pip[0], [...pip.slice(1), 'install', '--no-deps', '-r', stack.nodeps], log, pipEnv);
    const post = path.join(envsDir(), name, 'post-install.sh');
    if (existsSync(post)) {
      await step('bash', ['-euo', 'pipefail', post], log, {
        PATH: `${path.join(stack.dir, 'bin')}:${process.env.PATH ?? ''}`,
        VIRTUAL_ENV: stack.dir,
      });
    }
    const { stdout: freeze } = await execa(pip[0], [...pip.slice(1), 'freeze']);
    writeJsonAtomic(path.join(stack.dir, MARKER), {
      name,
      channel,
      key: stack.key,
      python: stack.pythonVersion,
      built: new Date().toISOString(),
      freeze: freeze.split('\n'),
    });
    log(`environment '${name}' ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (channel === 'latest') {
      // A latest environment a day is several GB: keep today's and the one before, for comparison.
      const old = [...stack.staleDirs].sort().slice(0, -1);
      if (old.length) log(`removing ${old.length} older latest environment(s) of '${name}': ${old.join(', ')}`);
      removeDirs(old);
    }
    return describeStack(name, channel);
  });
}

export function removeDirs(dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
