// The folders of src/ in layers: a module imports only from its own layer or from those below it, so
// no arrow runs back up and no two folders import each other. This list is the one statement of the
// layering; the test fails when an import breaks it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from '../../src/paths.ts';

/** Bottom to top. A top-level file of src/ is its own name; cli.ts alone sits above everything. */
const LAYERS: string[][] = [
  // Plain building blocks: errors, paths, files and folders, shell quoting, locks, the config file.
  [
    'errors',
    'exit-codes',
    'suggest',
    'paths',
    'files',
    'shell',
    'interrupt',
    'lock',
    'yaml-file',
    'out-dir',
    'machine',
    'config',
    'provenance',
  ],
  // What both languages share (protocol/*.json).
  ['protocol'],
  // How a worker starts: allocators, launch configuration, core sets.
  ['launcher'],
  // What each backend accepts and how its toggles are proven.
  ['backends'],
  // The Python environments.
  ['envs'],
  // Ladders, rungs, scenarios.
  ['rungs'],
  // Results as data: run files, statistics, speedups, the best rung, roofline.
  ['results'],
  // Results as pages, tables and charts: one module per output, one vega engine, one page frame.
  ['render'],
  // One worker process and its socket.
  ['worker'],
  // A run: rungs in rounds, proofs, store.
  ['run'],
  // Workflows built on runs.
  ['nightly', 'tune'],
  ['fleet'],
  // The commands, then the CLI.
  ['commands'],
  ['cli'],
  ['bin'],
];

const SRC = path.join(repoRoot, 'src');
const unitOf = (file: string) => {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? rel[0]!.replace(/\.ts$/, '') : rel[0]!;
};
const layerOf = (unit: string) => LAYERS.findIndex((l) => l.includes(unit));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

it('places every folder and top-level file of src/ in a layer', () => {
  const units = new Set(files(SRC).map(unitOf));
  expect([...units].filter((u) => layerOf(u) < 0)).toEqual([]);
});

it('has no import from a lower layer up to a higher one (type imports included)', () => {
  const back: string[] = [];
  for (const file of files(SRC)) {
    const from = unitOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = unitOf(path.resolve(path.dirname(file), m[1]!));
      if (layerOf(to) > layerOf(from)) back.push(`${path.relative(SRC, file)} (${from}) imports ${m[1]} (${to})`);
    }
  }
  expect(back).toEqual([]);
});

it('has no command importing another: what they share lives in commands/options.ts and dry-run.ts', () => {
  const dir = path.join(SRC, 'commands');
  const commands = readdirSync(dir).filter((f) =>
    /export const \w+Command\b/.test(readFileSync(path.join(dir, f), 'utf8')),
  );
  const crossing = commands.flatMap((f) =>
    [...readFileSync(path.join(dir, f), 'utf8').matchAll(/from '\.\/([^']+)'/g)]
      .map((m) => m[1]!)
      .filter((to) => commands.includes(to))
      .map((to) => `${f} imports ${to}`),
  );
  expect(crossing).toEqual([]);
});

it('has no circle between the folders and files of one layer either', () => {
  const edges = new Map<string, Set<string>>();
  for (const file of files(SRC)) {
    const from = unitOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = unitOf(path.resolve(path.dirname(file), m[1]!));
      if (to !== from) edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
  }
  const circles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (u: string, trail: string[]) => {
    if (state.get(u) === 'done') return;
    if (state.get(u) === 'open') {
      circles.push([...trail.slice(trail.indexOf(u)), u].join(' -> '));
      return;
    }
    state.set(u, 'open');
    for (const v of edges.get(u) ?? []) visit(v, [...trail, u]);
    state.set(u, 'done');
  };
  for (const u of edges.keys()) visit(u, []);
  expect(circles).toEqual([]);
});
