import type { Argv } from 'yargs';
import { envUnusable } from '../backends/registry.ts';
import { provision, removeDirs } from '../envs/provision.ts';
import { describeStack, envsRoot, stackNames } from '../envs/stacks.ts';
import { UserError } from '../errors.ts';
import { machine } from '../machine.ts';
import { jsonOption, printJson } from './options.ts';

const log = (line: string) => console.error(line);

export const envsCommand = {
  command: 'envs',
  describe: 'Python environments, one per backend stack (envs/<name>/requirements*.txt)',
  builder: (y: Argv) =>
    y
      .command(
        'list',
        'Show each environment: missing / ready / stale, and where it lives',
        (y2: Argv) => jsonOption(y2, 'the environments'),
        async (a: { json: boolean }) => {
          if (a.json) {
            const envs = [];
            for (const name of stackNames()) {
              const s = await describeStack(name);
              envs.push({ name, state: s.state, dir: s.dir, python: s.python, stale_dirs: s.staleDirs });
            }
            return printJson({ root: envsRoot(), envs });
          }
          console.log(`environments live in ${envsRoot()} (set LADDER_CACHE_DIR to move them)`);
          for (const name of stackNames()) {
            const s = await describeStack(name);
            console.log(
              `${name.padEnd(10)} ${s.state.padEnd(8)} ${s.dir}${s.staleDirs.length ? `  (${s.staleDirs.length} outdated: ladder envs prune)` : ''}`,
            );
          }
        },
      )
      .command(
        'provision [names..]',
        'Create or update environments (all when none is named)',
        (y2: Argv) =>
          y2
            .positional('names', { type: 'string', array: true, describe: 'environment names' })
            .option('force', { type: 'boolean', default: false, describe: 'rebuild even when ready' }),
        async (a: { names?: string[]; force: boolean }) => {
          // All of them means all that can be used here: zentorch's needs an AMD CPU (name it to force it).
          const here = machine();
          const names = a.names?.length
            ? a.names
            : stackNames().filter((n) => {
                const why = envUnusable(n, here);
                if (why) log(`${n}: not provisioned: ${why}`);
                return !why;
              });
          for (const name of names) await describeStack(name); // unknown names fail before any work
          for (const name of names) {
            const s = await provision(name, log, { force: a.force });
            console.log(`${name}: ready (${s.dir})`);
          }
        },
      )
      .command(
        'python <name>',
        'Print the interpreter of a ready environment (for scripts)',
        (y2: Argv) => y2.positional('name', { type: 'string', demandOption: true }),
        async (a: { name: string }) => {
          const s = await describeStack(a.name);
          if (s.state !== 'ready')
            throw new UserError(`environment '${a.name}' is ${s.state}: run 'ladder envs provision ${a.name}'`);
          console.log(s.python);
        },
      )
      .command('prune', 'Delete environments built from outdated requirements', {}, async () => {
        for (const name of stackNames()) {
          const s = await describeStack(name);
          removeDirs(s.staleDirs);
          for (const d of s.staleDirs) console.log(`removed ${d}`);
        }
      })
      .demandCommand(1, 'name a subcommand: list, provision, python or prune'),
  handler: () => undefined,
};
