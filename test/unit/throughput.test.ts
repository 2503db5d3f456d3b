// Throughput over the common window of several instances, and the cores they are given: pure
// functions on made-up pass windows and core lists, so no verdict depends on timing.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { allowedCores, instanceRungs, splitCores } from '../../src/launcher/instances.ts';
import { overlappingCores, throughput, type Window } from '../../src/results/throughput.ts';
import type { Rung } from '../../src/rungs/ladder.ts';
import { tmpDir } from '../helpers.ts';

/** `n` back-to-back passes of `each` seconds from `start`. */
const passes = (start: number, each: number, n: number): Window[] =>
  Array.from({ length: n }, (_, i) => [start + i * each, start + (i + 1) * each]);

describe('throughput over the common window', () => {
  it('one instance: its passes over the time they took', () => {
    const t = throughput([passes(100, 2, 5)])!;
    expect(t.instances).toBe(1);
    expect(t.window_s).toBeCloseTo(10);
    expect(t.images).toBeCloseTo(5);
    expect(t.images_per_s).toBeCloseTo(0.5);
    expect(t.pass_s_per_image).toEqual([2, 2, 2, 2, 2]);
  });

  it('two instances that start apart: only the time both ran counts, edge passes by their share', () => {
    // A: passes of 2 s from t=0 to 12; B: passes of 3 s from t=1 to 13. Common window [1, 12].
    const t = throughput([passes(0, 2, 6), passes(1, 3, 4)])!;
    expect(t.window_s).toBeCloseTo(11);
    // A: [0,2] counts 1/2, then 5 whole passes; B: 3 whole passes and [10,13] counts 2/3.
    expect(t.images).toBeCloseTo(0.5 + 5 + 3 + 2 / 3);
    expect(t.images_per_s).toBeCloseTo((0.5 + 5 + 3 + 2 / 3) / 11);
    // Per round of passes: 1 / (1/2 + 1/3) seconds per image of both together.
    expect(t.pass_s_per_image).toHaveLength(4);
    expect(t.pass_s_per_image[0]).toBeCloseTo(1.2);
  });

  it('instances that never ran at the same time have no throughput', () => {
    expect(throughput([passes(0, 1, 3), passes(10, 1, 3)])).toBeUndefined();
    expect(throughput([passes(0, 1, 3), []])).toBeUndefined();
    expect(throughput([])).toBeUndefined();
  });

  it('names instances that share a core', () => {
    expect(overlappingCores([[0], [1]])).toEqual([]);
    expect(overlappingCores([[0, 1], [1, 2], [3]])).toEqual([
      'instances: 0 and 1 share cores 1 (each needs its own cores)',
    ]);
  });
});

describe('instances: disjoint cores', () => {
  const rung = (launcher: Partial<Rung['launcher']>): Rung => ({
    id: 'r',
    description: '',
    backend: 'torch',
    env: 'torch',
    launcher: { allocator: 'default', ...launcher },
    options: {},
  });

  it('splits the cores into equal disjoint shares, one thread per core, pinned with taskset', () => {
    expect(splitCores([0, 1, 2, 3], 2)).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(splitCores([0, 1, 2, 3], 3, 1)).toEqual([[0], [1], [2]]);
    const rs = instanceRungs(rung({ instances: 2 }), () => [0, 1]);
    expect(rs.map((r) => r.launcher)).toEqual([
      { allocator: 'default', instances: 2, bind: 'taskset', cores: '0', threads: 1 },
      { allocator: 'default', instances: 2, bind: 'taskset', cores: '1', threads: 1 },
    ]);
    // numactl when the rung binds with it; the rung's own core list is what is split.
    const nm = instanceRungs(rung({ instances: 2, bind: 'numactl', cores: '2-5' }), () => [0]);
    expect(nm.map((r) => [r.launcher.bind, r.launcher.cores, r.launcher.threads])).toEqual([
      ['numactl', '2,3', 2],
      ['numactl', '4,5', 2],
    ]);
  });

  it('leaves a rung of one instance alone', () => {
    const r = rung({ threads: 2 });
    expect(instanceRungs(r, () => [0, 1])).toEqual([r]);
  });

  it('refuses instances that do not fit, in one line', () => {
    expect(() => instanceRungs(rung({ instances: 3 }), () => [0, 1])).toThrow(UserError);
    expect(() => instanceRungs(rung({ instances: 2, cores_per_instance: 2 }), () => [0, 1, 2])).toThrow(
      /2 x 2 cores do not fit in the 3 cores available \(0,1,2\)/,
    );
  });

  it("reads this process's cores from /proc/self/status", () => {
    const file = path.join(tmpDir(), 'status');
    writeFileSync(file, 'Name:\tnode\nCpus_allowed_list:\t0-2,5\n');
    expect(allowedCores(file)).toEqual([0, 1, 2, 5]);
    expect(() => allowedCores(path.join(tmpDir(), 'missing'))).toThrow(UserError);
    expect(allowedCores().length).toBeGreaterThan(0);
  });
});
