import type { Argv } from 'yargs';
import { describeStack } from '../envs/stacks.ts';
import { launchPlan } from '../launcher/launch.ts';
import { ARTICLE_LADDER, loadLadder, type Rung } from '../rungs/ladder.ts';
import { withThreads } from '../run/execute.ts';

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Prints, per rung, the exact environment, interpreter and command its worker starts with. */
export async function printDryRun(rungs: Rung[], threads?: number): Promise<void> {
  for (const r of rungs.map((x) => withThreads(x, threads))) {
    const endpoint = 'ipc:///tmp/ladder-XXXXXX/ctl.sock';
    try {
      const stack = await describeStack(r.backend);
      console.log(`# ${r.id}: environment '${r.backend}' (${stack.state})`);
      const plan = launchPlan(stack.python, r.launcher, endpoint, r.id, {});
      const env = Object.entries(plan.env).map(([k, v]) => `${k}=${quote(v)}`);
      console.log(`env ${env.join(' ')} \\\n  ${[plan.command, ...plan.args].map(quote).join(' ')}`);
      console.log(`# backend options: ${JSON.stringify(r.options)}`);
    } catch (err) {
      console.log(`# ${r.id}: cannot start: ${(err as Error).message}`);
    }
    console.log('');
  }
  console.log('# Variables of your shell are passed on too, except LD_PRELOAD, MALLOC_CONF, OMP_*, KMP_*, MKL_*, GOMP_*, DNNL_*, ONEDNN_*, TORCHINDUCTOR_*.');
}

export const rungsCommand = {
  command: 'rungs',
  describe: 'List the rungs of a ladder and what each one changes',
  builder: (y: Argv) =>
    y
      .option('ladder', { type: 'string', default: ARTICLE_LADDER, describe: 'ladder file' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'print the environment, interpreter and command of each worker' })
      .option('threads', { type: 'number', describe: 'thread count override, as for reproduce' }),
  handler: async (a: { ladder: string; 'dry-run': boolean; threads?: number }) => {
    const ladder = loadLadder(a.ladder);
    if (a['dry-run']) return printDryRun(ladder.rungs, a.threads);
    console.log(`ladder ${ladder.name} (${ladder.file})`);
    for (const r of ladder.rungs) {
      const launcher = Object.entries(r.launcher).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
      const options = Object.entries(r.options).map(([k, v]) => `${k}=${String(v)}`).join(' ') || '-';
      const fig = r.article ? `article ${r.article.seed_s ?? '–'} s (seed) / ${r.article.published_s ?? '–'} s (published)` : 'no article figure';
      console.log(`${r.id.padEnd(17)} ${r.description}`);
      console.log(`${''.padEnd(17)} backend=${r.backend} ${launcher}; options: ${options}${r.extends ? `; extends ${r.extends}` : ''}; ${fig}`);
    }
  },
};
