import type { Argv } from 'yargs';
import { z } from 'zod';
import { BACKENDS } from '../backends/registry.ts';
import { ladderJsonSchema } from '../rungs/ladder.ts';
import { checkNumber } from '../rungs/settings.ts';
import { DRY_RUN_NOTE, dryRunPlan, printDryRun } from './dry-run.ts';
import { jsonOption, ladderFrom, ladderOption, printJson, selectedRungs, selectionOptions } from './options.ts';

type OptionSchema = { enum?: unknown[]; type?: string; default?: unknown; description?: string };

/** Each backend: its name, title, default environment and options (JSON Schema properties). */
function backends() {
  return [...BACKENDS.values()].map((b) => ({
    name: b.name,
    title: b.title,
    env: b.env,
    options: ((z.toJSONSchema(b.options, { io: 'input' }) as { properties?: Record<string, OptionSchema> })
      .properties ?? {}) as Record<string, OptionSchema>,
  }));
}

/** Each backend: what it is, its default environment, and its options with their values and defaults. */
function printBackends(): void {
  const all = backends();
  // The column is as wide as the longest name (openvino-genai), so every line stays aligned.
  const w = Math.max(...all.map((b) => b.name.length));
  for (const b of all) {
    console.log(`${b.name.padEnd(w)} ${b.title} (environment '${b.env}')`);
    for (const [k, p] of Object.entries(b.options)) {
      const values = p.enum ? p.enum.map(String).join('|') : (p.type ?? 'value');
      console.log(
        `${''.padEnd(w)} options.${k}: ${values}, default ${JSON.stringify(p.default)}${p.description ? `: ${p.description}` : ''}`,
      );
    }
  }
}

export const rungsCommand = {
  command: 'rungs',
  describe: 'List the rungs of a ladder and what each one changes',
  builder: (y: Argv) =>
    jsonOption(ladderOption(selectionOptions(y)), 'the rungs (or --backends, or the --dry-run plan)')
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
      .option('schema', { type: 'boolean', default: false, describe: 'print the JSON Schema of ladder files' })
      .example('$0 rungs --ladder beyond', "the rungs beyond the article's")
      .example('$0 rungs --backends', 'each backend and its options'),
  handler: async (a: {
    ladder: string;
    'dry-run': boolean;
    threads?: number;
    set?: string[];
    only?: string[];
    skip?: string[];
    backends: boolean;
    schema: boolean;
    json: boolean;
  }) => {
    if (a.backends) return a.json ? printJson({ backends: backends() }) : printBackends();
    if (a.schema) return printJson(ladderJsonSchema()); // JSON either way
    const ladder = ladderFrom(a);
    const rungs = selectedRungs(ladder, a);
    if (a.threads !== undefined) checkNumber('threads', a.threads, { int: true, min: 1, max: 4096 });
    if (a['dry-run'])
      return a.json
        ? printJson({ rungs: await dryRunPlan(rungs, a.threads), note: DRY_RUN_NOTE })
        : printDryRun(rungs, a.threads);
    if (a.json) return printJson({ ladder: { name: ladder.name, file: ladder.file }, rungs });
    console.log(`ladder ${ladder.name} (${ladder.file})`);
    const w = Math.max(...rungs.map((r) => r.id.length));
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
      console.log(`${r.id.padEnd(w)} ${r.description}`);
      console.log(
        `${''.padEnd(w)} backend=${r.backend} env=${r.env} ${launcher}; options: ${options}${r.extends ? `; extends ${r.extends}` : ''}; ${fig}`,
      );
    }
  },
};
