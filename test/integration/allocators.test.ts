// Real allocator libraries preloaded into real workers, proven from /proc/self/maps and mallctl.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ladder, tmpDir, TINY } from '../helpers.ts';

const readRun = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8'));

describe('allocator rungs (real jemalloc and tcmalloc)', () => {
  it('maps the asked allocator and applies MALLOC_CONF', async () => {
    const out = tmpDir();
    const r = await ladder(['reproduce', '--only', 'baseline,jemalloc,tcmalloc', '--profile', 'smoke', ...TINY, '--out', out]);
    expect(r.exitCode, r.all).toBe(0);
    const run = readRun(out);
    const byId = Object.fromEntries(run.rungs.map((x: { id: string }) => [x.id, x]));
    expect(byId.baseline.effective.allocator).toMatchObject({ name: 'default', mapped: [] });
    expect(byId.jemalloc.effective.allocator.name).toBe('jemalloc');
    expect(byId.jemalloc.effective.allocator.mapped[0]).toMatch(/libjemalloc\.so/);
    // The article's value with its stray space removed, and jemalloc itself reporting it applied.
    expect(byId.jemalloc.effective.allocator.malloc_conf).toBe('oversize_threshold:1,background_thread:true,metadata_thp:auto,dirty_decay_ms:30000,muzzy_decay_ms:30000');
    expect(byId.jemalloc.effective.allocator.opts).toMatchObject({ background_thread: 'true', dirty_decay_ms: '30000', muzzy_decay_ms: '30000', metadata_thp: 'auto' });
    expect(byId.tcmalloc.effective.allocator.mapped[0]).toMatch(/libtcmalloc/);
    for (const id of ['baseline', 'jemalloc', 'tcmalloc']) expect(byId[id].stats.median_s, id).toBeGreaterThan(0);
    expect(byId.jemalloc.speedup_vs_baseline).toBeCloseTo(byId.baseline.stats.median_s / byId.jemalloc.stats.median_s, 9);
    const report = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/\| jemalloc \| ok \| \d+\.\d{3} \|/);
    expect(r.stdout).toMatch(/\| rung \| status \| median \(s\)/);
  });

  it('fails a rung whose allocator library the loader ignored, while the others complete', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'ladder.yaml');
    writeFileSync(file, [
      'name: broken-allocator',
      'rungs:',
      '  - {id: baseline, backend: torch}',
      '  - {id: ghost, extends: baseline, launcher: {allocator: jemalloc, library: /nonexistent/libjemalloc.so.2}}',
      '  - {id: tcmalloc, extends: baseline, launcher: {allocator: tcmalloc}}',
    ].join('\n'));
    const out = path.join(dir, 'out');
    const r = await ladder(['reproduce', '--ladder', file, '--profile', 'smoke', ...TINY, '--out', out]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/FAILED: rung ghost: toggle did not take effect: allocator: asked jemalloc, worker has default mapped \(LD_PRELOAD=\/nonexistent\/libjemalloc\.so\.2\)/);
    const run = readRun(out);
    expect(run.rungs.map((x: { status: string }) => x.status)).toEqual(['ok', 'failed', 'ok']);
    expect(run.rungs[1].stats).toBeUndefined();  // no figure for a rung that is not what it says
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/\*\*ghost\*\*: rung ghost: toggle did not take effect/);
  });
});
