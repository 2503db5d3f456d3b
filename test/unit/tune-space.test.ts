// A search space as data: options of another backend collapse, constraints and invalid rungs are
// pruned with their reason and counted, before anything runs.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { enumerate, loadSpace, spacePath } from '../../src/tune/space.ts';
import { tmpDir } from '../helpers.ts';

function space(yaml: string) {
  const file = path.join(tmpDir(), 'space.yaml');
  writeFileSync(file, yaml);
  return loadSpace(file);
}

const BASE = `name: t
reference: { backend: openvino, options: { static_shape: true } }
`;

describe('ladder tune: the space', () => {
  it('collapses options a backend does not have, and counts them', () => {
    const e = enumerate(
      space(`${BASE}axes:
  backend: [openvino, torch]
  options.static_shape: [true, false]
  options.scheduler: [default, dpm]
`),
    );
    expect(e.combinations).toBe(8);
    // torch has no static_shape: its two values collapse into one candidate per scheduler.
    expect(e.notApplicable).toBe(2);
    expect(e.candidates).toHaveLength(6);
    expect(new Set(e.candidates.map((c) => c.id)).size).toBe(6);
    for (const c of e.candidates) expect(c.id).toMatch(/^[a-z0-9][a-z0-9._-]*$/);
    expect(e.reference.options).toEqual({ static_shape: true });
  });

  it('prunes by constraint and by validation, each with its reason', () => {
    const e = enumerate(
      space(`${BASE}axes:
  backend: [torch, ipex]
  options.dtype: [fp32, bf16]
  launcher.allocator: [default, jemalloc]
  launcher.malloc_conf: ["oversize_threshold:1"]
constraints:
  - { when: { backend: ipex }, require: { options.dtype: bf16 }, why: IPEX only in bf16 here }
  - { forbid: { backend: torch, options.dtype: fp32 }, why: the fp32 baseline is known }
`),
    );
    expect(e.combinations).toBe(8);
    const by = Object.fromEntries(e.pruned.map((p) => [p.why, p.count]));
    expect(by['IPEX only in bf16 here']).toBe(2);
    expect(by['the fp32 baseline is known']).toBe(2);
    expect(e.candidates.map((c) => c.values['options.dtype'])).toEqual(['bf16', 'bf16', 'bf16', 'bf16']);
  });

  it('prunes a combination the ladder schema refuses', () => {
    const e = enumerate(
      space(`${BASE}axes:
  backend: [torch]
  launcher.threads: [0, 2]
`),
    );
    expect(e.candidates).toHaveLength(1);
    expect(e.pruned).toHaveLength(1);
    expect(e.pruned[0]!.why).toMatch(/launcher\.threads: must be a positive integer/);
  });

  it('keeps candidates of several instances for the throughput objective only, and only if they fit', () => {
    const sp = space(`${BASE}axes:
  backend: [torch]
  launcher.instances: [1, 2, 4]
`);
    const cores = () => [0, 1];
    const latency = enumerate(sp, { cores });
    expect(latency.candidates.map((c) => c.rung.launcher.instances)).toEqual([1]);
    expect(latency.pruned).toEqual([
      { why: 'several instances measure throughput: only with --objective throughput', count: 2 },
    ]);
    const tp = enumerate(sp, { objective: 'throughput', cores });
    expect(tp.candidates.map((c) => c.rung.launcher.instances)).toEqual([1, 2]);
    expect(tp.pruned[0]!.why).toMatch(/instances: 4 x 1 cores do not fit in the 2 cores available/);
  });

  it("gives a candidate of another backend that backend's environment", () => {
    const e = enumerate(space(`${BASE}axes: { backend: [openvino, torch-compile] }\n`));
    expect(e.candidates.map((c) => [c.rung.backend, c.rung.env])).toEqual([
      ['openvino', 'openvino'],
      ['torch-compile', 'torch'],
    ]);
  });

  it('refuses a bad space file in one line', () => {
    expect(() => space(`${BASE}axes: { options.scheduler: [dpm] }\n`)).toThrow(/axes: needs a backend axis/);
    expect(() => space(`${BASE}axes: { backend: [torch], nope: [1] }\n`)).toThrow(/axes/);
    expect(() => enumerate(space(`${BASE}axes: { backend: [tensorflow] }\n`))).toThrow(/unknown backend 'tensorflow'/);
  });

  it('ships a default space whose every candidate is a valid rung', () => {
    const e = enumerate(loadSpace(spacePath('space')));
    expect(e.candidates.length).toBeGreaterThan(3);
    expect(e.reference.id).toBe('openvino-static');
  });
});
