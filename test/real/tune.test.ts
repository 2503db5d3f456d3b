// ladder tune for real: real workers over the real socket, real allocators, synthetic:tiny. A small
// space with a combination the schema refuses, one a constraint prunes, and one whose allocator
// library is missing (its toggle fails: dropped with the reason). The winner's best.yaml is then
// reproduced in a fresh run. The search logic itself
// (a known best must win) is test/mock/tune.test.ts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { findAllocator } from '../../src/launcher/allocators.ts';
import { allowedCores, splitCores } from '../../src/launcher/instances.ts';
import { ladder, TINY, tmpDir } from '../helpers.ts';

const MISSING = '/nonexistent/libjemalloc.so.2';
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

function spaceFile(yaml: string): string {
  const file = path.join(tmpDir(), 'space.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('ladder tune on synthetic:tiny', () => {
  const jemalloc = findAllocator('jemalloc');
  const root = tmpDir();
  const out = path.join(root, 'search');
  let space: string;
  let result: Awaited<ReturnType<typeof ladder>>;
  let tune: any;

  beforeAll(async () => {
    if (!jemalloc) throw new Error('jemalloc is not installed (apt-get install libjemalloc2): the test needs it');
    space = spaceFile(`name: tiny
reference: { id: ref, backend: torch }
axes:
  backend: [torch]
  options.dtype: [fp32, bf16]
  launcher.allocator: [default, jemalloc]
  launcher.library: [${jemalloc}, ${MISSING}]
constraints:
  - when: { options.dtype: bf16 }
    forbid: { launcher.library: ${MISSING} }
    why: one broken candidate is enough
`);
    // One round and no roofline: real workers, allocators and proofs are what is tested here. The rounds
    // after the screening, and the roofline, have their own tests (test/mock/tune.test.ts, ladder.test.ts).
    result = await ladder([
      'tune',
      ...['--space', space, '--budget', '20m', '--max-rounds', '1'],
      ...[...TINY, '--no-roofline', '--out', out],
    ]);
    tune = readJson(path.join(out, 'tune.json'));
  }, 1_200_000);

  it('prunes before running: a library with the default allocator (schema), and by constraint', () => {
    expect(result.exitCode, result.all).toBe(0);
    expect(result.all).toMatch(
      /space tiny \(latency\): 8 combinations, 0 not applicable to their backend, 5 pruned, 3 candidates/,
    );
    const pruned = Object.fromEntries(tune.enumerated.pruned.map((p: any) => [p.why, p.count]));
    expect(pruned['one broken candidate is enough']).toBe(1);
    const invalid = tune.enumerated.pruned.find((p: any) => p.why.startsWith('invalid:'));
    expect(invalid.count).toBe(4);
    expect(invalid.why).toMatch(/launcher\.library: must be the library of the allocator asked/);
  });

  it('drops the candidate whose allocator did not load, with the reason', () => {
    const broken = tune.enumerated.candidates.find((c: any) => c.values['launcher.library'] === MISSING);
    const dropped = tune.search.rounds[0].dropped.find((d: any) => d.id === broken.id);
    expect(dropped.why).toMatch(/allocator: asked jemalloc, worker has default mapped/);
    expect(tune.search.winner).not.toBe(broken.id);
    expect(readFileSync(path.join(out, 'tune.md'), 'utf8')).toContain(`| ${broken.id} |`);
  });

  it('honours the budget and writes its answer: tune.md, the chart, best.yaml', () => {
    expect(tune.search.spent_s).toBeGreaterThan(0);
    expect(tune.search.spent_s).toBeLessThanOrEqual(tune.budget_s);
    expect(tune.search.winner).toBeDefined();
    expect(tune.search.rounds).toHaveLength(1);
    expect(tune.search.stop).toMatch(/^1 round, the most asked \(--max-rounds\): /);
    for (const f of ['tune.md', 'tune.svg', 'tune.png', 'best.yaml'])
      expect(existsSync(path.join(out, f)), f).toBe(true);
    expect(readFileSync(path.join(out, 'tune.svg'), 'utf8')).toMatch(/^<svg/);
    // Every round is a run of its own, read back by the one run-file reader.
    expect(readJson(path.join(out, 'round-0', 'run.json')).rungs[0].id).toBe('ref');
  });

  it('refuses a budget the screening round cannot fit, from what these candidates cost here', async () => {
    const r = await ladder(['tune', '--space', space, '--budget', '2s', ...TINY, '--runs', root, '--dry-run']);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toMatch(
      /^ladder: error: --budget 2s: the screening round alone should take about \d+ (s|min); give more time or a smaller space$/m,
    );
    expect(r.stdout).toMatch(/round 0: 3 candidates x 1 passes, about \d+ (s|min)/);
  });

  it('best.yaml reproduces: the winner and its reference in a fresh run', async () => {
    const best = YAML.parse(readFileSync(path.join(out, 'best.yaml'), 'utf8'));
    expect(best.rungs.map((r: any) => r.id)).toEqual(['ref', tune.search.winner]);
    const again = path.join(root, 'again');
    const r = await ladder([
      'reproduce',
      '--ladder',
      path.join(out, 'best.yaml'),
      ...TINY,
      '--passes',
      '2',
      '--no-roofline',
      '--out',
      again,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const run = readJson(path.join(again, 'run.json'));
    expect(run.rungs.map((x: any) => [x.id, x.status])).toEqual([
      ['ref', 'ok'],
      [tune.search.winner, 'ok'],
    ]);
    expect(run.rungs[1].effective.allocator.name).toBe('jemalloc');
  }, 600_000);
});

describe('ladder tune --objective throughput on synthetic:tiny', () => {
  it('measures candidates of 1 and 2 instances as images/s and names a winner', async () => {
    const cores = allowedCores();
    if (cores.length < 2) throw new Error(`this test needs 2 cores; this process may use ${cores.join(',')}`);
    const out = path.join(tmpDir(), 'search');
    const space = spaceFile(`name: tp
reference: { id: ref, backend: torch }
axes:
  backend: [torch]
  launcher.instances: [1, 2, ${cores.length + 1}]
`);
    const r = await ladder([
      'tune',
      '--space',
      space,
      '--objective',
      'throughput',
      '--budget',
      '20m',
      '--max-rounds',
      '1',
      ...TINY,
      '--no-roofline',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const tune = readJson(path.join(out, 'tune.json'));
    // More instances than cores: pruned before anything ran.
    expect(tune.enumerated.pruned[0].why).toBe(
      `instances: ${cores.length + 1} x 1 cores do not fit in the ${cores.length} cores available (${cores.join(',')})`,
    );
    expect(tune.enumerated.candidates).toHaveLength(2);
    expect(tune.search.winner).toBeDefined();
    const md = readFileSync(path.join(out, 'tune.md'), 'utf8');
    expect(md).toMatch(/\| candidate \| values \| last round \| passes \| images\/s \| throughput vs reference/);
    const round0 = readJson(path.join(out, 'round-0', 'run.json'));
    const two = round0.rungs.find((x: any) => x.config.launcher.instances === 2);
    expect(two.status, two.error).toBe('ok');
    expect(two.instances.map((i: any) => i.cores)).toEqual(splitCores(cores, 2));
    expect(two.throughput.images_per_s).toBeGreaterThan(0);
  }, 1_200_000);
});
