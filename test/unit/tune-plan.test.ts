// The plan of a search: the rounds successive halving runs and their cost from earlier runs.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Rung } from '../../src/rungs/ladder.ts';
import { PROFILES } from '../../src/rungs/settings.ts';
import { costFrom, pastRungs, planRounds } from '../../src/tune/plan.ts';
import { DEFAULT_SEARCH } from '../../src/tune/search.ts';
import { tmpDir } from '../helpers.ts';

const rung = (id: string, options: Record<string, unknown> = {}, backend = 'openvino'): Rung => ({
  id,
  description: '',
  backend,
  env: backend,
  launcher: { allocator: 'default' },
  options,
});

describe('ladder tune: the plan', () => {
  it('keeps a third a round, at least two to the end, with three times the passes up to nine', () => {
    const cs = Array.from({ length: 14 }, (_, i) => rung(`c${i}`));
    const rounds = planRounds(cs, rung('ref'), DEFAULT_SEARCH, () => undefined);
    expect(rounds.map((r) => [r.candidates, r.passes])).toEqual([
      [14, 1],
      [5, 3],
      [2, 9],
    ]);
    expect(rounds.every((r) => r.estimate_s === undefined)).toBe(true);
    // One candidate alone is measured up to the most passes.
    expect(planRounds([rung('a')], rung('ref'), DEFAULT_SEARCH, () => undefined).map((r) => r.passes)).toEqual([
      1, 3, 9,
    ]);
    // --max-rounds cuts the plan as it cuts the search.
    expect(planRounds(cs, rung('ref'), { ...DEFAULT_SEARCH, maxRounds: 2 }, () => undefined)).toHaveLength(2);
  });

  it('costs each round from what the same configurations took before, the fastest kept', () => {
    const cs = [rung('a'), rung('b'), rung('c'), rung('d')];
    const cost = (r: Rung) => ({
      setup_s: 10,
      pass_s: { a: 1, b: 2, c: 3, d: 4, ref: 5 }[r.id]!,
      from: 'same configuration' as const,
    });
    const rounds = planRounds(cs, rung('ref'), DEFAULT_SEARCH, cost);
    // 4 x 1 pass + the reference; then the 2 fastest (a, b) x 3 passes + the reference.
    expect(rounds.map((r) => r.estimate_s)).toEqual([
      5 * 10 + (1 + 2 + 3 + 4 + 5),
      3 * 10 + 3 * (1 + 2 + 5),
      3 * 10 + 9 * (1 + 2 + 5),
    ]);
  });

  it('finds earlier runs of the same model and shapes, tune rounds included', () => {
    const root = tmpDir();
    const sc = PROFILES.quick!;
    const write = (dir: string, r: Partial<Rung>, model: string, steps: number, median: number) => {
      mkdirSync(dir, { recursive: true });
      const full = { ...rung('x'), ...r };
      writeFileSync(
        path.join(dir, 'run.json'),
        JSON.stringify({
          schema_version: 2,
          tool: { version: '0' },
          command: 'ladder',
          started: '2026-11-28T00:00:00Z',
          machine: { isa: {} },
          rungs: [
            {
              id: full.id,
              status: 'ok',
              config: { ...full, model, scenario: { ...sc, steps } },
              samples_s: [median, median],
              stats: { median_s: median, n: 2 },
              timings: { wall_s: 2 * median + 7 },
            },
          ],
        }),
      );
    };
    write(path.join(root, 'a'), rung('same', { static_shape: true }), 'synthetic:sd15', sc.steps, 20);
    write(path.join(root, 'b', 'round-0'), rung('other', { quantization: 'hybrid' }), 'synthetic:sd15', sc.steps, 16);
    write(path.join(root, 'c'), rung('other-shape', { static_shape: true }), 'synthetic:sd15', sc.steps + 1, 99);
    write(path.join(root, 'd'), rung('other-model', { static_shape: true }), 'synthetic:tiny', sc.steps, 99);
    mkdirSync(path.join(root, 'broken'));
    writeFileSync(path.join(root, 'broken', 'run.json'), '{');
    const past = pastRungs(root, 'synthetic:sd15', sc);
    expect(past.map((r) => r.id).sort()).toEqual(['other', 'same']);
    const cost = costFrom(past);
    expect(cost(rung('q', { static_shape: true }))).toEqual({ setup_s: 7, pass_s: 20, from: 'same configuration' });
    expect(cost(rung('q', { scheduler: 'dpm' }))?.from).toBe('same backend');
    expect(cost(rung('q', {}, 'torch'))).toBeUndefined();
    // Two instances load one after the other: a setup known only from one instance counts twice.
    const two = { ...rung('q', { scheduler: 'dpm' }), launcher: { allocator: 'default', instances: 2 } } as Rung;
    const one = cost(rung('q', { scheduler: 'dpm' }))!;
    expect(cost(two)).toEqual({ ...one, setup_s: 2 * one.setup_s });
  });
});
