// The article's whole ladder on synthetic:tiny: every rung in its own real worker and environment
// (real jemalloc/tcmalloc, real OpenVINO export, real IPEX), each toggle proven from inside. The
// beyond-the-article ladder is beyond.test.ts (a file of its own: the two run side by side).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { machine } from '../../src/machine.ts';
import { repoRoot } from '../../src/paths.ts';
import { ARTICLE_SCENARIO } from '../../src/protocol/scenario.ts';
import { rungDtype } from '../../src/results/roofline.ts';
import { peakCacheFile } from '../../src/run/roofline-step.ts';
import { ladder, TINY, tmpDir } from '../helpers.ts';

const readRun = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8'));

describe('ladder reproduce --profile smoke (every rung)', () => {
  const out = tmpDir();
  let result: Awaited<ReturnType<typeof ladder>>;
  let byId: Record<string, any>;

  beforeAll(async () => {
    // A peak cached in a slow moment: every rung runs above it, so the run must probe it again. Planted
    // in a peak cache of this run's own: the machine's, which the tests running beside read, stays as it is.
    const peaks = tmpDir();
    const cache = path.join(peaks, path.basename(await peakCacheFile(machine())));
    writeFileSync(cache, JSON.stringify({ fp32: 0.001, bf16: 0.001 }));
    result = await ladder(['reproduce', '--profile', 'smoke', '--model', 'synthetic:tiny', '--out', out], {
      LADDER_PEAKS_DIR: peaks,
    });
    byId = Object.fromEntries(readRun(out).rungs.map((r: { id: string }) => [r.id, r]));
  }, 1_200_000);

  it('runs every rung of the article and prints the table beside the article', () => {
    expect(result.exitCode, result.all).toBe(0);
    expect(Object.keys(byId)).toEqual([
      'baseline',
      'openvino-dynamic',
      'openvino-static',
      'jemalloc',
      'tcmalloc',
      'ipex-bf16',
      'dpm',
    ]);
    for (const r of Object.values(byId)) {
      expect(r.status, r.id).toBe('ok');
      expect(r.samples_s, r.id).toHaveLength(2);
      expect(r.stats.median_s, r.id).toBeGreaterThan(0);
      expect(r.speedup_vs_baseline, r.id).toBeCloseTo(byId.baseline.stats.median_s / r.stats.median_s, 9);
    }
    expect(byId.dpm.speedup_vs_previous).toBeCloseTo(byId['ipex-bf16'].stats.median_s / byId.dpm.stats.median_s, 9);
    expect(result.stdout).toMatch(/\| openvino-static \| ok \| \d+\.\d{3} \|.*\| 4\.7 \| 4\.70 \| 6\.87x \| 3\.55x \|/);
    const report = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/^Machine: .*logical CPUs/m);
    expect(report).toMatch(/\| dpm \| ok \|/);
  });

  it('measures the baseline and writes a self-describing run.json', () => {
    expect(result.stdout).toMatch(/pass 2\/2\s+\d+\.\d+ s/);
    expect(result.stdout).toMatch(/median \d+\.\d+ s/);
    const run = readRun(out);
    expect(run.schema_version).toBe(3);
    expect(run.tool.version).toBe(JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
    expect(run.machine).toMatchObject({ logical_cpus: expect.any(Number), memory_bytes: expect.any(Number) });
    const rung = run.rungs[0];
    expect(rung).toMatchObject({ id: 'baseline', status: 'ok' });
    expect(rung.samples_s).toHaveLength(2);
    for (const s of rung.samples_s) expect(s).toBeGreaterThan(0);
    expect(rung.stats.median_s).toBeGreaterThanOrEqual(rung.stats.min_s);
    expect(rung.stats.median_s).toBeLessThanOrEqual(rung.stats.max_s);
    expect(rung.config.scenario).toMatchObject({
      steps: 2,
      height: 64,
      width: 64,
      passes: 2,
      prompt: ARTICLE_SCENARIO.prompt,
    });
    // What the worker itself saw, not what we asked for.
    const eff = rung.effective;
    expect(eff.scheduler).toBe('PNDMScheduler');
    expect(eff.allocator.name).toBe('default');
    expect(eff.model).toMatchObject({ kind: 'synthetic', name: 'synthetic:tiny', real_weights: false });
    expect(eff.packages.torch).toMatch(/^2\.13\.0/);
    for (const c of ['unet', 'vae', 'text_encoder', 'safety_checker']) {
      expect(eff.components[c].params, c).toBeGreaterThan(0);
      expect(Object.keys(eff.components[c].param_dtypes), c).toEqual(['float32']);
    }
    expect(rung.timings.load_s).toBeGreaterThan(0);
    // Where the time goes: parts plus the rest make up each pass.
    for (const [i, p] of rung.components.entries()) {
      const sum = p.text_encoding_s + p.unet_s + p.vae_decode_s + p.safety_checker_s + p.rest_s;
      expect(sum).toBeCloseTo(rung.samples_s[i], 6);
      expect(p.unet_s).toBeGreaterThan(0);
    }
    expect(rung.breakdown.unet_calls_per_pass).toBe(3); // 2 PNDM steps = 3 UNet calls
    // The baseline is its own fp32 reference; the roofline and the controller's overhead are measured.
    expect(rung.quality).toMatchObject({
      reference: 'images/baseline.npy',
      psnr_db: null,
      max_abs_diff: 0,
      flagged: false,
    });
    expect(rung.roofline.dtype).toBe('fp32');
    expect(rung.roofline.gflops).toBeGreaterThan(0);
    expect(run.roofline.flops.total).toBeGreaterThan(run.roofline.flops.unet_per_call);
    expect(run.roofline.peaks_gflops.fp32).toBeGreaterThan(0);
    // The controller's CPU time while the worker measured cannot exceed the time the worker took.
    expect(rung.overhead.controller_cpu_s).toBeLessThan(
      rung.samples_s.reduce((a: number, b: number) => a + b, 0) + rung.timings.warmup_s,
    );
    expect(Math.abs(rung.overhead.bench_job_gap_ms)).toBeLessThan(1000);
    expect(rung.stats.ci95_median_s[0]).toBeLessThanOrEqual(rung.stats.median_s);
  });

  it('probes the machine at the start and the end of the run, in a worker of the first rung', () => {
    const probe = readRun(out).machine_probe;
    expect(probe.backend).toBe('torch');
    for (const d of ['fp32', 'bf16']) {
      expect(probe.start.gflops[d], d).toBeGreaterThan(0);
      expect(probe.start.probes[d], d).toHaveLength(2);
      expect(probe.moved[d], d).toBeCloseTo(probe.end.gflops[d] / probe.start.gflops[d] - 1, 12);
    }
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(
      /^Machine during the run \(matrix-product probe at the start and the end\): fp32 [+-]\d/m,
    );
  });

  it("proves the allocators from /proc/self/maps and jemalloc's own options", () => {
    expect(byId.baseline.effective.allocator).toMatchObject({ name: 'default', mapped: [] });
    expect(byId.jemalloc.effective.allocator.mapped[0]).toMatch(/libjemalloc\.so/);
    // The article's value with its stray space removed, and jemalloc reporting it applied.
    expect(byId.jemalloc.effective.allocator.malloc_conf).toBe(
      'oversize_threshold:1,background_thread:true,metadata_thp:auto,dirty_decay_ms:30000,muzzy_decay_ms:30000',
    );
    expect(byId.jemalloc.effective.allocator.opts).toMatchObject({
      background_thread: 'true',
      dirty_decay_ms: '30000',
      muzzy_decay_ms: '30000',
      metadata_thp: 'auto',
    });
    expect(byId.tcmalloc.effective.allocator.mapped[0]).toMatch(/libtcmalloc/);
    expect(byId['ipex-bf16'].effective.allocator.name).toBe('jemalloc');
  });

  it('proves OpenVINO shapes dynamic, then static, and reads precision back', () => {
    const dyn = byId['openvino-dynamic'].effective.openvino.submodels;
    const st = byId['openvino-static'].effective.openvino.submodels;
    expect(dyn.unet.inputs.find((i: { name: string }) => i.name === 'sample')).toMatchObject({
      static: false,
      shape: '[?,4,?,?]',
    });
    for (const sub of Object.values(st) as { inputs: { static: boolean }[]; precision: string }[]) {
      expect(sub.inputs.every((i) => i.static)).toBe(true);
      expect(['bf16', 'f32', 'f16']).toContain(sub.precision);
    }
    // Classifier-free guidance: the static UNet batch is 2 for one image.
    expect(st.unet.inputs.find((i: { name: string }) => i.name === 'sample').shape).toBe('[2,4,8,8]');
  });

  it('proves IPEX, bf16 weights, channels_last and the bf16 UNet at run time', () => {
    const eff = byId['ipex-bf16'].effective;
    expect(eff.packages['intel-extension-for-pytorch']).toMatch(/^2\.8/);
    for (const name of ['unet', 'vae', 'text_encoder']) {
      const c = eff.components[name];
      expect(c.ipex_modules, name).toBeGreaterThan(0);
      expect(c.param_dtypes.bfloat16, name).toBeGreaterThan(0);
      expect(c.channels_last_convs, name).toBe(c.spatial_convs);
    }
    expect(eff.runtime).toMatchObject({ autocast_dtype: 'bfloat16' });
    expect(byId.baseline.effective.runtime).toMatchObject({ autocast_dtype: null, unet_output_dtype: 'float32' });
    expect(byId.dpm.effective.scheduler).toBe('DPMSolverMultistepScheduler');
    expect(byId['ipex-bf16'].effective.scheduler).toBe('PNDMScheduler');
  });

  it('guards quality against the fp32 reference of the same scheduler', () => {
    const run = readRun(out);
    for (const id of ['openvino-dynamic', 'openvino-static', 'jemalloc', 'tcmalloc', 'ipex-bf16']) {
      expect(byId[id].quality.reference, id).toBe('images/baseline.npy');
    }
    // Same math, another allocator: the same image.
    expect(byId.jemalloc.quality.max_abs_diff).toBeLessThan(1e-3);
    // bf16 changes the picture a little, and it is measured, not assumed.
    expect(byId['ipex-bf16'].quality.max_abs_diff).toBeGreaterThan(0);
    // No fp32 DPM rung in the ladder: a one-pass reference was made for the dpm rung.
    expect(run.references).toEqual([expect.objectContaining({ id: 'reference-dpm', scheduler: 'dpm', status: 'ok' })]);
    expect(byId.dpm.quality.reference).toBe('images/reference-dpm.npy');
  });

  it('places every rung on the roofline for the dtype it really ran in', () => {
    expect(byId.baseline.roofline.dtype).toBe('fp32');
    expect(byId['ipex-bf16'].roofline.dtype).toBe('bf16');
    // OpenVINO's own precision choice on this CPU, read back from the compiled UNet, is the roofline's dtype.
    const precision = byId['openvino-static'].effective.openvino.submodels.unet.precision;
    expect(['bf16', 'f32']).toContain(precision);
    expect(byId['openvino-static'].roofline.dtype).toBe(rungDtype(byId['openvino-static']));
    expect(rungDtype(byId['openvino-static'])).toBe(precision === 'bf16' ? 'bf16' : 'fp32');
    for (const r of Object.values(byId)) expect(r.roofline.pct_of_peak, r.id).toBeGreaterThan(0);
    // The int8 peak (torch._int_mm) is probed beside them, for the int8 rungs of the beyond ladder.
    const rl = readRun(out).roofline;
    expect(rl.peaks_gflops.int8).toBeGreaterThan(1);
    expect(rl.peak_probes.int8.gflops).toHaveLength(3);
  });

  it('probes again a cached peak that a rung ran above, and never shows a share above 100%', () => {
    expect(result.stdout).toMatch(
      /roofline: the cached fp32\/bf16 peak is below what this run reached: probing it again/,
    );
    const rl = readRun(out).roofline;
    for (const d of ['fp32', 'bf16']) {
      expect(rl.peaks_gflops[d], d).toBeGreaterThan(1);
      expect(rl.peak_probes[d].gflops, d).toHaveLength(3);
      expect(rl.peaks_gflops[d]).toBe(Math.max(...rl.peak_probes[d].gflops));
    }
    for (const r of Object.values(byId)) expect(r.roofline.pct_of_peak, r.id).toBeLessThanOrEqual(100);
  });
});

// That a failed rung leaves the others running is the mock ladder's test (mock.test.ts); here the real
// loader ignores a preload that does not exist, and the proof from /proc/self/maps catches it.
describe('a rung whose toggle silently fails', () => {
  it('is failed with the difference, and gets no figure', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'ladder.yaml');
    writeFileSync(
      file,
      [
        'name: broken-allocator',
        'rungs:',
        '  - {id: ghost, backend: torch, launcher: {allocator: jemalloc, library: /nonexistent/libjemalloc.so.2}}',
      ].join('\n'),
    );
    const out = path.join(dir, 'out');
    const r = await ladder([
      'reproduce',
      '--ladder',
      file,
      '--profile',
      'smoke',
      ...TINY,
      '--no-roofline',
      '--out',
      out,
    ]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /FAILED: rung ghost: toggle did not take effect: allocator: asked jemalloc, worker has default mapped \(LD_PRELOAD=\/nonexistent\/libjemalloc\.so\.2\)/,
    );
    const run = readRun(out);
    expect(run.rungs[0]).toMatchObject({
      status: 'failed',
      toggle_problems: [expect.stringMatching(/^allocator: asked jemalloc/)],
    });
    expect(run.rungs[0].stats).toBeUndefined(); // no figure for a rung that is not what it says
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(
      /\*\*ghost\*\*: rung ghost: toggle did not take effect/,
    );
  });
});
