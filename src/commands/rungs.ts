import type { Argv } from 'yargs';
import { z } from 'zod';
import { BACKENDS } from '../backends/registry.ts';
import { describeStack } from '../envs/stacks.ts';
import { instanceRungs } from '../launcher/instances.ts';
import { launchPlan } from '../launcher/launch.ts';
import { WIRE } from '../protocol/wire.ts';
import { ARTICLE_LADDER, ladderJsonSchema, type Rung, resolvedOptions, withThreads } from '../rungs/ladder.ts';
import { checkNumber } from '../rungs/settings.ts';
import { shq } from '../shell.ts';
import { selectedRungs, selectionOptions } from './reproduce.ts';
import { ladderFrom } from './run.ts';

/**
 * One word for a POSIX shell, taken literally: as it is when it holds only characters no shell treats
 * specially, else in single quotes (inside which nothing is special), each ' written as '\''.
 */

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

/** Each backend: what it is, its default environment, and its options with their values and defaults. */
function printBackends(): void {
  for (const b of BACKENDS.values()) {
    console.log(`${b.name.padEnd(10)} ${b.title} (environment '${b.env}')`);
    const schema = z.toJSONSchema(b.options, { io: 'input' }) as {
      properties?: Record<string, { enum?: unknown[]; type?: string; default?: unknown; description?: string }>;
    };
    for (const [k, p] of Object.entries(schema.properties ?? {})) {
      const values = p.enum ? p.enum.map(String).join('|') : (p.type ?? 'value');
      console.log(
        `${''.padEnd(10)} options.${k}: ${values}, default ${JSON.stringify(p.default)}${p.description ? `: ${p.description}` : ''}`,
      );
    }
  }
}

export const rungsCommand = {
  command: 'rungs',
  describe: 'List the rungs of a ladder and what each one changes',
  builder: (y: Argv) =>
    selectionOptions(y)
      .option('ladder', { type: 'string', default: ARTICLE_LADDER, describe: 'ladder file' })
      .option('dry-run', {
        type: 'boolean',
        default: false,
        describe: 'print the environment, interpreter and command of each worker',
      })
      .option('threads', { type: 'number', describe: 'thread count override, as for reproduce' })
      .option('set', { type: 'string', array: true, describe: 'field overrides, as for reproduce' })
      .option('backends', {
        type: 'boolean',
        default: false,
        describe: 'list the backends, their environments and options',
      })
      .option('schema', { type: 'boolean', default: false, describe: 'print the JSON Schema of ladder files' }),
  handler: async (a: {
    ladder: string;
    'dry-run': boolean;
    threads?: number;
    set?: string[];
    only?: string[];
    skip?: string[];
    backends: boolean;
    schema: boolean;
  }) => {
    if (a.backends) return printBackends();
    if (a.schema) return console.log(JSON.stringify(ladderJsonSchema(), null, 2));
    const ladder = ladderFrom(a);
    const rungs = selectedRungs(ladder, a);
    if (a.threads !== undefined) checkNumber('threads', a.threads, { int: true, min: 1, max: 4096 });
    if (a['dry-run']) return printDryRun(rungs, a.threads);
    console.log(`ladder ${ladder.name} (${ladder.file})`);
    for (const r of rungs) {
      const launcher = Object.entries(r.launcher)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(' ');
      const options =
        Object.entries(r.options)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' ') || '-';
      const fig = r.article
        ? `article ${r.article.seed_s ?? '–'} s (seed) / ${r.article.published_s ?? '–'} s (published)`
        : 'no article figure';
      console.log(`${r.id.padEnd(17)} ${r.description}`);
      console.log(
        `${''.padEnd(17)} backend=${r.backend} env=${r.env} ${launcher}; options: ${options}${r.extends ? `; extends ${r.extends}` : ''}; ${fig}`,
      );
    }
  },
};
