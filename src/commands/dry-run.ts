// --dry-run: the exact environment, interpreter and command of each rung's worker, quoted for sh.
import { describeStack } from '../envs/stacks.ts';
import { instanceRungs } from '../launcher/instances.ts';
import { launchPlan } from '../launcher/launch.ts';
import { WIRE } from '../protocol/wire.ts';
import { type Rung, resolvedOptions, withThreads } from '../rungs/ladder.ts';
import { shq } from '../shell.ts';

/** `env NAME=value ... command args`, every name, value and argument quoted, to paste into sh. */
export function envCommandLine(env: Record<string, string>, argv: string[]): string {
  const assignments = Object.entries(env).map(([k, v]) => `${shq(k)}=${shq(v)}`);
  return `env ${assignments.join(' ')} \\\n  ${argv.map(shq).join(' ')}`;
}

/** Prints, per rung, the exact environment, interpreter and command its worker starts with. */
export async function printDryRun(rungs: Rung[], threads?: number): Promise<void> {
  for (const r of rungs.map((x) => withThreads(x, threads))) {
    const endpoint = 'ipc:///tmp/ladder-XXXXXX/ctl.sock';
    try {
      const stack = await describeStack(r.env);
      console.log(`# ${r.id}: backend ${r.backend}, environment '${r.env}' (${stack.state})`);
      // A rung of several instances starts one worker per instance, each on its own cores.
      const instances = instanceRungs(r);
      if (instances.length > 1) console.log(`# ${instances.length} instances, started together`);
      for (const inst of instances) {
        const plan = launchPlan(stack.python, inst.launcher, endpoint, r.id, {}, r.backend);
        console.log(envCommandLine(plan.env, [plan.command, ...plan.args]));
      }
      console.log(`# backend options (defaults filled in): ${JSON.stringify(resolvedOptions(r))}`);
    } catch (err) {
      // One comment line: a line break in the message would make the rest a command when pasted.
      console.log(`# ${r.id}: cannot start: ${(err as Error).message.replace(/\s+/g, ' ')}`);
    }
    console.log('');
  }
  console.log(
    `# Variables of your shell are passed on too, except PYTHON* and those that change what is measured: ${WIRE.measured_env ?? ''} (protocol/wire.json).`,
  );
}
