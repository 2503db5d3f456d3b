// Every `ladder <command>` and `--flag` that README.md and docs/*.md name exists in the CLI. The
// commands and their options are read from the parser itself (`main([...,'--help'])`, as a user
// would see them), never from a copy, so a renamed or dropped flag fails here until the docs follow.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { currentSample, sampleSection } from '../../scripts/readme-sample.ts';
import { repoRoot } from '../../src/paths.ts';
import { renderTable } from '../../src/render/report.ts';
import { readRunFile } from '../../src/results/run-file.ts';
import { fixtureRun } from '../fixtures/run.ts';
import { ladder } from '../helpers.ts';

/** A command's path (`['fleet', 'submit']`) and its options as `--help` lists them. */
type Cli = Map<string, Set<string>>;

/** The names in the options column of a --help page (`  -h, --help`, `  --min-time`). */
function helpOptions(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^ {2}(?:-\w, )?--([a-z][\w-]*)/gm)) names.add(m[1]!);
  return names;
}

/** The commands a --help page lists under `ladder <prefix>`. */
function helpCommands(text: string, prefix: string[]): string[] {
  const re = new RegExp(`^ {2}ladder ${prefix.map((p) => `${p} `).join('')}([a-z][\\w-]*)`, 'gm');
  return [...text.matchAll(re)].map((m) => m[1]!);
}

/** The choices of a command's positionals (`fleet <action>`: submit, status...): its sub-commands too. */
function helpChoices(text: string): string[] {
  const positionals = text.split(/^Options:$/m)[0]!.split(/^Positionals:$/m)[1] ?? '';
  return [...positionals.matchAll(/\[choices: ([^\]]+)\]/g)].flatMap((m) =>
    [...m[1]!.matchAll(/"([^"]+)"/g)].map((c) => c[1]!),
  );
}

async function readCli(): Promise<Cli> {
  const cli: Cli = new Map();
  const visit = async (prefix: string[]) => {
    const r = await ladder([...prefix, '--help']);
    expect(r.exitCode, `ladder ${prefix.join(' ')} --help`).toBe(0);
    const options = helpOptions(r.stdout);
    cli.set(prefix.join(' '), options);
    for (const choice of helpChoices(r.stdout)) cli.set([...prefix, choice].join(' '), options);
    for (const sub of helpCommands(r.stdout, prefix)) await visit([...prefix, sub]);
  };
  await visit([]);
  return cli;
}

/** What the docs name: every `ladder <command> [sub]` and every `--flag`, with the command it goes to. */
interface Mention {
  file: string;
  command?: string[];
  flag?: string;
  text: string;
}

/** Programs whose flags are not ladder's: a flag after one of them is not checked. */
const FOREIGN = new Set(
  'npm pytest git apt-get node python python3 pip systemctl sbatch srun sinfo squeue scancel scrontab crontab curl ruff tar rsync ssh prlimit numactl taskset'.split(
    ' ',
  ),
);
/** Commands a script passes its arguments to. */
const SCRIPTS: Record<string, string> = { 'scripts/reproduce.sh': 'reproduce', 'scripts/nightly.sh': 'nightly' };
const WORD = /^[a-z][\w|-]*$/;

/**
 * The code of a Markdown file, unit by unit: each inline code span, and each line of a fenced block
 * (with the lines under it that go on with its options, `    [--rounds R]`), a comment a unit of its own.
 */
function codeUnits(md: string): { text: string; prose: boolean }[] {
  const units: { text: string; prose: boolean }[] = [];
  const parts = md.split(/^\s*```.*$/m);
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      let last = '';
      for (const line of part.split('\n')) {
        const [code, ...comment] = line.split(/(?:^|\s)#(?=\s|$)/);
        if (comment.length) units.push({ text: comment.join('#'), prose: true });
        if (!code!.trim()) continue;
        if (/^\s*\[/.test(code!) || last.endsWith('\\'))
          units[units.length - 1 - (comment.length ? 1 : 0)]!.text += ` ${code}`;
        else units.push({ text: code!, prose: false });
        last = code!.trim();
      }
    } else {
      // Inline spans may wrap over a line break in prose.
      for (const m of part.matchAll(/`([^`]+)`/g)) units.push({ text: m[1]!.replace(/\s+/g, ' '), prose: false });
    }
  });
  return units;
}

/** The commands and flags one code unit names (in a comment, prose: `ladder X` only when X is a command). */
function mentions(file: string, { text: unit, prose }: { text: string; prose: boolean }, commands: Set<string>) {
  const found: Mention[] = [];
  const tokens = unit.split(/\s+/).filter(Boolean);
  const bare = (t: string | undefined) => t?.replace(/^[[(`"']+|[\])`"',.;]+$/g, '');
  let command: string[] | undefined;
  let foreign = false;
  tokens.forEach((raw, i) => {
    const tok = bare(raw)!;
    if (['&&', '||', '|', ';', '>', '>>'].includes(raw)) {
      command = undefined;
      foreign = false;
      return;
    }
    if (tok === 'ladder' || tok.endsWith('bin/ladder.js') || SCRIPTS[tok]) {
      foreign = false;
      const name = SCRIPTS[tok] ?? bare(tokens[i + 1]);
      if (!name || !WORD.test(name) || (prose && !commands.has(name))) {
        command = [];
        return;
      }
      command = [name];
      const sub = SCRIPTS[tok] ? undefined : bare(tokens[i + 2]);
      // A sub-command, or several as `fleet submit|status`: each checked.
      if (sub && commands.has(name) && WORD.test(sub) && [...commands].some((c) => c.startsWith(`${name} `))) {
        command = [name, sub];
        for (const s of sub.split('|')) found.push({ file, command: [name, s], text: unit });
      } else found.push({ file, command: [name], text: unit });
      return;
    }
    if (FOREIGN.has(tok)) {
      foreign = true;
      command = undefined;
    }
    const flag = /^--([a-z][\w-]*)(=.*)?$/.exec(tok);
    if (flag && !foreign) found.push({ file, command, flag: flag[1]!, text: unit });
  });
  return found;
}

const docs = [
  'README.md',
  ...readdirSync(path.join(repoRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('README and docs name only what the CLI has', () => {
  let cli: Cli;
  beforeAll(async () => {
    cli = await readCli();
  }, 60_000);

  /** Options of `ladder <command> [sub]`; a `a|b|c` sub-command: any of them. */
  function optionsOf(command: string[]): Set<string> | undefined {
    if (command.length < 2) return cli.get(command.join(' '));
    const subs = command[1]!.split('|').map((s) => cli.get(`${command[0]} ${s}`));
    if (subs.some((s) => !s)) return undefined;
    return new Set(subs.flatMap((s) => [...s!]));
  }
  const all = () => new Set([...cli.values()].flatMap((s) => [...s]));
  /** `--no-foo` is yargs's negation of the boolean `--foo`. */
  const has = (options: Set<string>, flag: string) => options.has(flag) || options.has(flag.replace(/^no-/, ''));

  function problems(file: string, text: string): string[] {
    const known = new Set(cli.keys());
    const out: string[] = [];
    for (const unit of codeUnits(text))
      for (const m of mentions(file, unit, known)) {
        if (m.flag === undefined) {
          if (!cli.has(m.command!.join(' ')))
            out.push(`${file}: no command \`ladder ${m.command!.join(' ')}\` (in \`${m.text}\`)`);
          continue;
        }
        const options = m.command?.length ? optionsOf(m.command) : all();
        if (options && !has(options, m.flag))
          out.push(`${file}: no --${m.flag} on \`ladder ${m.command?.join(' ') ?? '*'}\` (in \`${m.text}\`)`);
      }
    return out;
  }

  test('the parser is read: commands, sub-commands and their options', () => {
    expect(cli.get('')).toContain('help');
    expect(cli.get('reproduce')).toContain('profile');
    expect(cli.get('compare')).toContain('fail-on-regression');
    expect([...cli.keys()]).toContain('fleet submit');
  });

  test.each(docs)('%s', (file) => {
    expect(problems(file, readFileSync(path.join(repoRoot, file), 'utf8'))).toEqual([]);
  });

  test.each(docs)('%s cites only files and folders that exist', (file) => {
    const text = readFileSync(path.join(repoRoot, file), 'utf8');
    const cited = [...text.matchAll(/`((?:src|test|python|docs|scripts|envs|ladders|protocol|bin|\.ci)\/[\w./-]*)`/g)];
    const missing = cited.map((m) => m[1]!).filter((p) => !existsSync(path.join(repoRoot, p)));
    expect(missing).toEqual([]);
  });

  test('a flag the CLI does not have is caught, on its command and alone', () => {
    const bogus = [
      '```sh',
      'npx ladder reproduce --profile quick',
      '                    [--rounds R] [--bogus-flag]',
      '```',
      'Use `ladder compare A B --alpha 0.01 --fleet x.yaml` or `--not-a-flag`, then `ladder frobnicate`.',
    ].join('\n');
    expect(problems('bogus.md', bogus)).toEqual([
      'bogus.md: no --bogus-flag on `ladder reproduce` (in `npx ladder reproduce --profile quick                     [--rounds R] [--bogus-flag]`)',
      'bogus.md: no --fleet on `ladder compare` (in `ladder compare A B --alpha 0.01 --fleet x.yaml`)',
      'bogus.md: no --not-a-flag on `ladder *` (in `--not-a-flag`)',
      'bogus.md: no command `ladder frobnicate` (in `ladder frobnicate`)',
    ]);
  });
});

describe("README's sample output", () => {
  const { section, file } = currentSample(readFileSync(path.join(repoRoot, 'README.md'), 'utf8'));

  test('is what scripts/readme-sample.ts writes for the run.json it names', () => {
    expect(section, 'README.md has no <!-- sample:begin --> ... <!-- sample:end --> section').not.toBe('');
    expect(file, 'the section names the run.json it came from').toBeDefined();
    // A run.json outside the repository (results/runs/ is not committed): its table has report.md's columns.
    const named = path.join(repoRoot, file!);
    if (!existsSync(named)) {
      const head = (table: string) => table.split('\n').find((l) => l.startsWith('| rung |'));
      expect(head(section)).toBe(head(renderTable(fixtureRun())));
      return;
    }
    expect(section).toBe(sampleSection(file!, readRunFile(named).run));
  });
});
