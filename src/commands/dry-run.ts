// --dry-run: the exact environment, interpreter and command of each rung's worker, quoted for sh
// (or, with --json, as data).
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

/** One rung's workers as --dry-run --json gives them (docs/json.md). */
export interface DryRunRung {
  id: string;
  backend: string;
  env: string;
  /** missing / ready / stale; absent when the rung cannot start. */
  env_state?: string;
  /** One per instance (worker) of the rung: its whole environment and its argv. */
  workers: { env: Record<string, string>; argv: string[] }[];
  options?: Record<string, unknown>;
  /** Why the rung cannot start, instead of its workers. */
  error?: string;
}

/** The endpoint is made per run: the plan shows its form. */
const ENDPOINT = 'ipc:///tmp/ladder-XXXXXX/ctl.sock';

/** Per rung, the exact environment, interpreter and command its workers would start with. */
export async function dryRunPlan(rungs: Rung[], threads?: number): Promise<DryRunRung[]> {
  const out: DryRunRung[] = [];
  for (const r of rungs.map((x) => withThreads(x, threads))) {
    const base = { id: r.id, backend: r.backend, env: r.env };
    try {
      const stack = await describeStack(r.env);
      // A rung of several instances starts one worker per instance, each on its own cores.
      const workers = instanceRungs(r).map((inst) => {
        const plan = launchPlan(stack.python, inst.launcher, ENDPOINT, r.id, {}, r.backend);
        return { env: plan.env, argv: [plan.command, ...plan.args] };
      });
      out.push({ ...base, env_state: stack.state, workers, options: resolvedOptions(r) });
    } catch (err) {
      out.push({ ...base, workers: [], error: (err as Error).message.replace(/\s+/g, ' ') });
    }
  }
  return out;
}

/** What the plan leaves out: the variables of the caller's shell that are passed on or not. */
export const DRY_RUN_NOTE = `Variables of your shell are passed on too, except PYTHON* and those that change what is measured: ${WIRE.measured_env ?? ''} (protocol/wire.json).`;

/** Prints, per rung, the exact environment, interpreter and command its worker starts with. */
export async function printDryRun(rungs: Rung[], threads?: number): Promise<void> {
  for (const r of await dryRunPlan(rungs, threads)) {
    if (r.error !== undefined) {
      // One comment line: a line break in the message would make the rest a command when pasted.
      console.log(`# ${r.id}: cannot start: ${r.error}`);
    } else {
      console.log(`# ${r.id}: backend ${r.backend}, environment '${r.env}' (${r.env_state})`);
      if (r.workers.length > 1) console.log(`# ${r.workers.length} instances, started together`);
      for (const w of r.workers) console.log(envCommandLine(w.env, w.argv));
      console.log(`# backend options (defaults filled in): ${JSON.stringify(r.options)}`);
    }
    console.log('');
  }
  console.log(`# ${DRY_RUN_NOTE}`);
}
