// The torch-compile backend on synthetic:tiny, in a real worker of the torch environment: the UNet is
// compiled in load() at the run's shapes, the compile is proven from dynamo's own counters, and a
// torch.compile that silently did nothing fails the rung.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../../src/backends/torch-compile.ts';
import { ladder, TINY, tmpDir } from '../helpers.ts';

const readRun = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8'));

async function reproduce(name: string, rungs: string[]) {
  const dir = tmpDir();
  const file = path.join(dir, 'ladder.yaml');
  writeFileSync(file, [`name: ${name}`, 'rungs:', ...rungs.map((r) => `  - ${r}`)].join('\n'));
  const out = path.join(dir, 'out');
  const result = await ladder(['reproduce', '--ladder', file, ...TINY, '--passes', '2', '--no-roofline', '--out', out]);
  return { result, out };
}

describe('torch-compile (torch.compile inductor, bf16, freezing; and max-autotune)', () => {
  let result: Awaited<ReturnType<typeof ladder>>;
  let byId: Record<string, any>;

  beforeAll(async () => {
    const r = await reproduce('torch-compile', [
      '{id: torch-compile-bf16, backend: torch-compile, options: {dtype: bf16}}',
      '{id: torch-compile-autotune, backend: torch-compile, options: {mode: max-autotune}}',
    ]);
    result = r.result;
    byId = Object.fromEntries(readRun(r.out).rungs.map((x: { id: string }) => [x.id, x]));
  }, 1_200_000);

  it.each([
    ['torch-compile-bf16', 'default'],
    ['torch-compile-autotune', 'max-autotune'],
  ])('%s compiles the UNet in one graph at load, and never again', (id, mode) => {
    expect(result.exitCode, result.all).toBe(0);
    const rung = byId[id];
    expect(rung.status).toBe('ok');
    const c = rung.effective.compile;
    expect(c).toMatchObject({ mode, freezing: true, fullgraph: true, dynamic: false, compiled: ['unet'] });
    expect(c.graphs).toBeGreaterThanOrEqual(1);
    expect(c.graph_breaks).toBe(0);
    expect(c.cache_dir).toMatch(/inductor$/);
    // Frozen graphs hold mkldnn-packed weights the FX graph cache cannot pickle: it is bypassed, and says so.
    expect(c.fx_graph_cache).toMatchObject({ hit: 0, bypass: 1 });
    expect(c.aot_autograd_cache.bypass).toBe(1);
    expect(rung.timings.compile_s).toBeGreaterThan(0);
    expect(c.compile_s).toBe(rung.timings.compile_s);
    // The load-time call matched the pipeline's: its warm-up and passes compiled nothing.
    expect(rung.effective.runtime).toMatchObject({
      autocast_dtype: 'bfloat16',
      unet_output_dtype: 'bfloat16',
      warmup_compiles: 0,
      recompiles: 0,
    });
    expect(rung.effective.components.unet.channels_last_convs).toBe(rung.effective.components.unet.spatial_convs);
    expect(rung.samples_s).toHaveLength(2);
    // Judged against a one-pass fp32 torch image of the same scheduler.
    expect(rung.quality.reference).toMatch(/^images\/reference/);
    expect(rung.quality.max_abs_diff).toBeGreaterThan(0);
  });

  it('says in the report what it ran with, cache bypass included', () => {
    expect(backend.describe(byId['torch-compile-bf16'].effective)).toBe(
      'bfloat16 (torch.compile inductor, freezing, FX graph cache bypassed)',
    );
    expect(backend.describe(byId['torch-compile-autotune'].effective)).toBe(
      'bfloat16 (torch.compile max-autotune, freezing, FX graph cache bypassed)',
    );
  });
});

describe('a torch.compile that silently does nothing', () => {
  it('fails the rung with the compile problem, and gives it no figure', async () => {
    // TORCHDYNAMO_DISABLE=1 turns torch.compile into a no-op returning the module as is.
    const { result, out } = await reproduce('dynamo-off', [
      '{id: no-compile, backend: torch-compile, launcher: {env: {TORCHDYNAMO_DISABLE: "1"}}}',
    ]);
    expect(result.exitCode, result.all).toBe(1);
    expect(result.stdout).toMatch(
      /FAILED: rung no-compile: toggle did not take effect: torch\.compile: unet not compiled/,
    );
    const r = readRun(out).rungs[0];
    expect(r).toMatchObject({ status: 'failed', effective: { compile: { graphs: 0, compiled: [] } } });
    expect(r.toggle_problems).toEqual([
      expect.stringMatching(/^torch\.compile: unet not compiled/),
      'torch.compile: no graph was compiled',
    ]);
    expect(r.stats).toBeUndefined();
  }, 600_000);
});
