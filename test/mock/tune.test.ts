// ladder tune's search logic through real workers on the sleep mock, whose pass times are scripted:
// a known best must win, and a round that cannot be costed stops at the budget. No verdict here
// depends on timing.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ladder, MOCK, tmpDir } from '../helpers.ts';

/** The sleep mock's spaces name their backend: MOCK without its --set, and no machine probe. */
const SLEEP = [...MOCK.filter((x) => x !== '--set' && x !== 'backend=sleep'), '--no-machine-probe'];

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

function spaceFile(yaml: string): string {
  const file = path.join(tmpDir(), 'space.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('ladder tune: the search through real workers (sleep mock, scripted pass times)', () => {
  it('a known best wins with significance, the others dropped as slower', async () => {
    const out = path.join(tmpDir(), 'search');
    const space = spaceFile(`name: mock
reference: { id: ref, backend: sleep, options: { pass_s: 0.06 } }
axes:
  backend: [sleep]
  options.pass_s: [0.04, 0.05, 0.01, 0.03, 0.06]
`);
    const r = await ladder(['tune', '--space', space, '--budget', '20m', ...SLEEP, '--out', out]);
    expect(r.exitCode, r.all).toBe(0);
    const tune = readJson(path.join(out, 'tune.json'));
    const best = tune.enumerated.candidates.find((c: any) => c.values['options.pass_s'] === 0.01).id;
    expect(tune.search.winner).toBe(best);
    expect(tune.search.stop).toMatch(new RegExp(`^${best} is faster than .* with significance`));
    // Screened all five with one pass, then fewer with more passes.
    expect(tune.search.rounds.map((x: any) => [x.candidates.length, x.passes])).toEqual([
      [5, 1],
      [2, 3],
      [2, 9],
    ]);
    expect(r.stdout).toContain(`winner: ${best}`);
  }, 600_000);

  it('a screening round the plan could not cost stops at the budget: the rest skipped, what ran ranked', async () => {
    const out = path.join(tmpDir(), 'search');
    // Every rung takes at least 2 s (a 1 s load, a 0.5 s warm-up, a 0.5 s pass; the sleeps are scripted),
    // so with 5 s the third candidate cannot start: its start is at least 6 s in, whatever the load.
    const space = spaceFile(`name: late
reference: { id: ref, backend: sleep, options: { pass_s: 0.5, load_s: 1 } }
axes:
  backend: [sleep]
  options.load_s: [1]
  options.pass_s: [0.5, 0.505, 0.51, 0.515, 0.25]
`);
    const r = await ladder(['tune', '--space', space, '--budget', '5s', ...SLEEP, '--runs', tmpDir(), '--out', out]);
    expect(r.all).toMatch(/cost unknown for 6 configurations/);
    const tune = readJson(path.join(out, 'tune.json'));
    const id = (pass: number) => tune.enumerated.candidates.find((c: any) => c.values['options.pass_s'] === pass).id;
    const dropped = Object.fromEntries(tune.search.rounds[0].dropped.map((d: any) => [d.id, d.why]));
    for (const pass of [0.51, 0.515, 0.25])
      expect(dropped[id(pass)], String(pass)).toBe('the time budget was spent before it started');
    expect(tune.search.rounds).toHaveLength(1);
    expect(tune.search.stop).toMatch(/^the budget was spent \(\d+ s of 5 s\)$/);
    // The fastest configuration was never measured, so it cannot win; a winner, if any, ran.
    expect(tune.search.winner).not.toBe(id(0.25));
    if (tune.search.winner) expect([id(0.5), id(0.505)]).toContain(tune.search.winner);
    expect(readJson(path.join(out, 'round-0', 'run.json')).rungs.at(-1).status).toBe('skipped');
  }, 300_000);
});
