// ladder compare on hand-written run.json files: no worker is started.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARTICLE_SCENARIO } from '../../src/protocol/scenario.ts';
import { ladder, tmpDir } from '../helpers.ts';

const machine = {
  hostname: 'h',
  cpu_model: 'Intel(R) Xeon(R) Platinum 8480+',
  logical_cpus: 2,
  isa: { avx2: true },
  memory_bytes: 2 ** 33,
  os: 'Ubuntu 22.04',
  kernel: '6.1',
  node: 'v20.11.0',
};
const scenario = { ...ARTICLE_SCENARIO };
/** Ten passes around `median` with a little jitter, in no particular order. */
const passes = (median: number) => [3, -1, 4, -5, 2, 1, -3, 5, -2, -4].map((d) => +(median * (1 + d / 400)).toFixed(4));
const rung = (id: string, samples: number[], extra: Record<string, unknown> = {}) => ({
  id,
  status: 'ok',
  config: { id, backend: 'torch', model: 'synthetic:sd15', scenario },
  samples_s: samples,
  ...extra,
});

function writeRun(dir: string, rungs: unknown[]): string {
  mkdirSync(dir, { recursive: true });
  const run = {
    schema_version: 1,
    tool: { name: 'ladder', version: '0.1.0' },
    command: 'ladder reproduce',
    started: '2026-11-28T00:00:00.000Z',
    finished: '2026-11-28T01:00:00.000Z',
    machine,
    rungs,
  };
  writeFileSync(path.join(dir, 'run.json'), `${JSON.stringify(run, null, 2)}\n`);
  return dir;
}

function fixture() {
  const root = tmpDir('ladder-compare-');
  const a = writeRun(path.join(root, 'a'), [
    rung('baseline', passes(10)),
    rung('jemalloc', passes(6)),
    rung('dpm', passes(2)),
  ]);
  const b = writeRun(path.join(root, 'b'), [
    rung('baseline', passes(20)), // injected 2x regression
    rung('jemalloc', passes(6.01)),
    rung('dpm', [], { status: 'failed', error: 'rung dpm: toggle did not take effect: scheduler PNDMScheduler' }),
  ]);
  return { root, a, b };
}

describe('ladder compare', () => {
  it('flags an injected 2x regression as slower and exits 10 (a regression) with --fail-on-regression', async () => {
    const { a, b } = fixture();
    const r = await ladder(['compare', a, path.join(b, 'run.json'), '--fail-on-regression']);
    expect(r.exitCode, r.all).toBe(10);
    expect(r.stdout).toMatch(/^baseline\s+10\.000\s+20\.000\s+2\.000x\s+1\.1e-5\s+10,10\s+–\s+slower$/m);
    expect(r.stdout).toMatch(/^jemalloc\s+6\.000\s+6\.010\s+1\.002x\s+\S+\s+10,10\s+–\s+unchanged$/m);
    expect(r.stdout).toMatch(/^dpm\s.*failed in B$/m);
    expect(r.stdout).toContain('dpm: B: rung dpm: toggle did not take effect');
    expect(r.stdout).toContain('1 slower, 0 faster, 1 unchanged, 1 failed or unfinished.');
    // without the flag a regression is reported, not an error
    const plain = await ladder(['compare', a, b]);
    expect(plain.exitCode, plain.all).toBe(0);
    expect(plain.stdout).toBe(r.stdout);
  });

  it('exits 0 with --fail-on-regression when nothing got slower', async () => {
    const { root, a } = fixture();
    const same = writeRun(path.join(root, 'same'), [rung('baseline', passes(10.02)), rung('jemalloc', passes(5.99))]);
    const r = await ladder(['compare', a, same, '--fail-on-regression']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^baseline\s.*\s+unchanged$/m);
    expect(r.stdout).toMatch(/^dpm\s.*only in A$/m);
  });

  it('prints a Markdown table with --markdown', async () => {
    const { a, b } = fixture();
    const r = await ladder(['compare', a, b, '--markdown']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(
      '| rung | median A (s) | median B (s) | B/A | p | n A,B | vs baseline A → B | verdict |',
    );
    expect(r.stdout).toContain('|---|---:|---:|---:|---:|---:|---:|---|');
    expect(r.stdout).toContain('| baseline | 10.000 | 20.000 | 2.000x | 1.1e-5 | 10,10 | – | **slower** |');
  });

  it('says when there are too few passes to tell, and warns about another machine or scenario', async () => {
    const root = tmpDir('ladder-compare-');
    const a = writeRun(path.join(root, 'a'), [rung('baseline', [10, 10.1])]);
    const b = path.join(root, 'b');
    mkdirSync(b);
    const run = {
      schema_version: 1,
      tool: { name: 'ladder', version: '0.1.0' },
      command: 'ladder',
      started: '2026-11-28T02:00:00.000Z',
      machine: { ...machine, logical_cpus: 4 },
      rungs: [
        {
          ...rung('baseline', [20, 20.2]),
          config: { model: 'synthetic:sd15', scenario: { ...scenario, steps: 5, passes: 2 } },
        },
      ],
    };
    writeFileSync(path.join(b, 'run.json'), JSON.stringify(run));
    const r = await ladder(['compare', a, b, '--fail-on-regression']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^baseline\s.*\s2,2\s+–\s+inconclusive$/m);
    expect(r.stdout).toContain('too few samples for significance: n=2,2');
    expect(r.stdout).toContain('warning: the runs come from different machines');
    expect(r.stdout).toContain('warning: scenarios differ (every rung): steps 20 vs 5');
  });

  it('refuses bad input in one line with exit code 2', async () => {
    const { root, a } = fixture();
    const missing = await ladder(['compare', a, path.join(root, 'no-such-run')]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.trim().split('\n')).toEqual([
      `ladder: error: no such run directory or file: ${path.join(root, 'no-such-run')}`,
    ]);

    writeFileSync(path.join(root, 'v99.json'), JSON.stringify({ schema_version: 99, rungs: [] }));
    const v99 = await ladder(['compare', path.join(root, 'v99.json'), a]);
    expect(v99.exitCode).toBe(2);
    expect(v99.stderr.trim()).toMatch(
      /^ladder: error: \S+v99\.json: schema_version 99 is newer than this ladder reads \(3\): update ladder$/,
    );

    writeFileSync(path.join(root, 'junk.json'), 'not json at all\n');
    const junk = await ladder(['compare', a, path.join(root, 'junk.json')]);
    expect(junk.exitCode).toBe(2);
    expect(junk.stderr.trim()).toMatch(/^ladder: error: \S+junk\.json: not valid JSON \([^\n]*\)$/);

    const empty = await ladder(['compare', a, root]);
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr.trim()).toBe(`ladder: error: ${root} is not a run directory (no run.json in it)`);
  });
});
