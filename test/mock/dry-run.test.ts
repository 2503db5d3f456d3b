// What ladder prints for a user to paste or open: `ladder rungs --dry-run`'s command lines, run by a
// real shell (nothing in a variable's value may execute), and `ladder trend --out` refusing a path it
// cannot write with one line and exit code 2.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test, vi } from 'vitest';
import { envCommandLine, printDryRun } from '../../src/commands/dry-run.ts';
import { loadLadder } from '../../src/rungs/ladder.ts';
import { shq } from '../../src/shell.ts';
import { fixtureRun } from '../fixtures/run.ts';
import { ladder, tmpDir } from '../helpers.ts';

/** POSIX sh, and bash where there is one: each must take the printed words literally. */
const SHELLS = ['sh', ...(existsSync('/bin/bash') ? ['bash'] : [])];

/**
 * Runs the `env NAME=value ... \` line of a dry-run block through `shell -c`, with the worker command
 * replaced by `env -0`, and returns the environment the command would have seen.
 */
async function pasted(shell: string, envLine: string): Promise<Record<string, string>> {
  expect(envLine).toMatch(/^env .* \\$/);
  const r = await execa(shell, ['-c', `${envLine.replace(/ \\$/, '')} env -0`], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    extendEnv: false,
  });
  return Object.fromEntries(
    r.stdout
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

describe('ladder rungs --dry-run', () => {
  test('a hostile variable value is printed quoted: pasted into sh it stays text and runs nothing', async () => {
    const dir = tmpDir('ladder-dry-run-');
    const marker = path.join(dir, 'pwned');
    const values = {
      OMP_SAFE: `X$(touch ${marker})`,
      OMP_QUOTES: `it's \`touch ${marker}\` "$HOME" ; touch ${marker} | & > ${marker}`,
      OMP_BANG: `!! \\ ~ * ? [a] {b,c} # %`,
    };
    const file = path.join(dir, 'hostile.yaml');
    writeFileSync(
      file,
      [
        'name: hostile',
        'rungs:',
        '  - id: one',
        '    description: variables a shell would expand',
        '    backend: sleep',
        '    launcher:',
        '      env:',
        ...Object.entries(values).map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`),
        '',
      ].join('\n'),
    );
    const r = await ladder(['rungs', '--ladder', file, '--dry-run']);
    expect(r.exitCode, r.all).toBe(0);
    const lines = r.stdout.split('\n');
    const envLine = lines.find((l) => l.startsWith('env '))!;
    expect(envLine, r.stdout).toBeDefined();
    expect(lines[lines.indexOf(envLine) + 1]).toMatch(/^ {2}\S+python\S* -m ladder_worker /);
    for (const shell of SHELLS) {
      const seen = await pasted(shell, envLine);
      for (const [k, v] of Object.entries(values)) expect(seen[k], `${shell}: ${k}`).toBe(v);
      expect(seen.PYTHONUNBUFFERED).toBe('1');
    }
    expect(existsSync(marker), 'the substitution ran').toBe(false);
    // The whole printed command, interpreter included, is one well-formed sh command.
    const block = lines.slice(lines.indexOf(envLine), lines.indexOf(envLine) + 2).join('\n');
    expect((await execa('sh', ['-n', '-c', block], { reject: false })).exitCode).toBe(0);
  });

  test('names are quoted as well as values (a name never gets past the ladder schema, but the line is safe anyway)', async () => {
    const dir = tmpDir('ladder-dry-run-');
    const marker = path.join(dir, 'pwned');
    const line = envCommandLine({ [`X$(touch ${marker})`]: 'v', PLAIN: 'a:b,c/d=e' }, ['/usr/bin/python3', '-m', 'w']);
    expect(line).toContain('PLAIN=a:b,c/d=e'); // plain words stay readable
    for (const shell of SHELLS) {
      const seen = await pasted(shell, line.split('\n')[0]!);
      expect(seen[`X$(touch ${marker})`], shell).toBe('v');
      expect(seen.PLAIN).toBe('a:b,c/d=e');
    }
    expect(existsSync(marker)).toBe(false);
  });

  test('a rung that cannot start is one comment line, whatever its error says', async () => {
    const marker = path.join(tmpDir('ladder-dry-run-'), 'pwned');
    const rung = { ...loadLadder().rungs[0]!, env: `nope\ntouch ${marker}\n#` };
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      printed.push(args.join(' '));
    });
    try {
      await printDryRun([rung]);
    } finally {
      spy.mockRestore();
    }
    const out = printed.join('\n');
    expect(out).toMatch(/^# baseline: cannot start: unknown environment 'nope touch \S+ #'/m);
    for (const l of out.split('\n')) expect(l, l).toMatch(/^(#.*)?$/); // pasted, nothing but comments
    await execa('sh', ['-c', out]);
    expect(existsSync(marker)).toBe(false);
  });

  test('shq: bare when nothing in it is special to sh, else single-quoted', async () => {
    expect(shq('ipc:///tmp/ladder-XXXXXX/ctl.sock')).toBe('ipc:///tmp/ladder-XXXXXX/ctl.sock');
    expect(shq('')).toBe("''");
    expect(shq("it's")).toBe(`'it'\\''s'`);
    const words = ['', "'", "''", 'a b', '$x', '`x`', '\\', '\n', 'é ü', '-n', '!x', '*', '~', 'a=b'];
    const r = await execa('sh', ['-c', `printf '%s\\0' ${words.map(shq).join(' ')}`]);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(words);
  });
});

describe('ladder trend --out', () => {
  /** A history with one night of one machine. */
  function history(): string {
    const root = tmpDir('ladder-trend-out-');
    const run = fixtureRun();
    run.nightly = { machine_id: 'vm', verdicts: [], version_changes: [] };
    const dir = path.join(root, 'vm', '2026-11-28T00-10-04Z');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'run.json'), JSON.stringify(run));
    return root;
  }

  test('an existing folder, or a path under a file, is one line of error naming it, exit code 2', async () => {
    const root = history();
    const elsewhere = tmpDir('ladder-trend-out-');
    const folder = path.join(elsewhere, 'existing');
    mkdirSync(folder);
    const file = path.join(elsewhere, 'a-file');
    writeFileSync(file, 'x');
    const cases: [string, RegExp][] = [
      [folder, /is a folder/],
      [path.join(file, 'trend.html'), /cannot write there \(\S+a-file is a file, not a folder\)/],
    ];
    for (const [out, msg] of cases) {
      const r = await ladder(['trend', '--history', root, '--out', out]);
      expect(r.exitCode, r.all).toBe(2);
      const err = r.stderr.trim().split('\n');
      expect(err, r.stderr).toHaveLength(1);
      expect(err[0]).toMatch(/^ladder: error: /);
      expect(err[0]).toContain(out);
      expect(err[0]).toMatch(msg);
      expect(r.stdout).toBe('');
    }
  });

  test('a new file in a new folder is written', async () => {
    const root = history();
    const out = path.join(tmpDir('ladder-trend-out-'), 'new', 'folder', 'trend.html');
    const r = await ladder(['trend', '--history', root, '--out', out]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    expect(readFileSync(out, 'utf8')).toMatch(/^<!doctype html>/);
  });
});
