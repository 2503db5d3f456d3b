// OpenVINO beyond the article on synthetic:tiny, each toggle proven from inside the worker: int8 UNets
// (NNCF hybrid and full int8, calibrated on the shipped prompts), OpenVINO's knobs read back from every
// compiled model, and the compiled-model cache cold then warm. Then the proofs themselves, fed the real
// report of a rung whose toggles were not asked, must catch each toggle that did not take effect.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { getBackend } from '../../src/backends/registry.ts';
import type { LaunchConfig } from '../../src/launcher/config.ts';
import { cacheRoot } from '../../src/paths.ts';
import { type ladder, reproduceYaml, TINY, tmpDir } from '../helpers.ts';

const LADDER = `
name: openvino-beyond
rungs:
  - id: ov-plain
    backend: openvino
    options: { static_shape: true }
  - id: ov-hybrid
    extends: ov-plain
    options: { quantization: hybrid, calibration_samples: 4 }
  # With OpenVINO's knobs too: they are read back from every compiled model, whatever its precision.
  - id: ov-int8
    extends: ov-plain
    options:
      { quantization: int8, calibration_samples: 4, performance_hint: THROUGHPUT, num_streams: 1, hyper_threading: false }
  - id: ov-cache-cold
    extends: ov-plain
    options: { model_cache: true }
  - id: ov-cache-warm
    extends: ov-cache-cold
`;

const SHAPE = 48;
const SUBMODELS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'];
const openvino = getBackend('openvino');

describe('OpenVINO int8 and knobs (synthetic:tiny)', () => {
  const out = tmpDir();
  let result: Awaited<ReturnType<typeof ladder>>;
  let byId: Record<string, any>;

  beforeAll(async () => {
    // The compiled-model cache of the tiny model at this test's own shape starts empty, so the first cached
    // rung is cold. Blob folders are keyed by shape, and no other test uses 48x48: files run in parallel.
    const blobs = path.join(cacheRoot(), 'models', 'openvino-blobs');
    for (const d of existsSync(blobs) ? readdirSync(blobs) : []) {
      if (d.startsWith('synthetic-tiny') && d.includes(`-${SHAPE}x${SHAPE}-`))
        rmSync(path.join(blobs, d), { recursive: true, force: true });
    }
    const tiny = TINY.map((a, i) => (TINY[i - 1] === '--height' || TINY[i - 1] === '--width' ? String(SHAPE) : a));
    ({ result, byId } = await reproduceYaml(out, LADDER, [...tiny, '--passes', '2', '--no-roofline']));
  }, 900_000);

  const subs = (id: string) => byId[id].effective.openvino.submodels;
  const proveLoaded = (id: string, options: Record<string, unknown>) =>
    openvino.proveLoaded(
      openvino.options.parse({ ...byId[id].config.options, ...options }),
      byId[id].effective,
      byId[id].config.launcher as LaunchConfig,
    );

  it('runs every rung with its toggles proven', () => {
    expect(result.exitCode, result.all).toBe(0);
    for (const r of Object.values(byId))
      expect(r.status, `${r.id}: ${r.error ?? JSON.stringify(r.toggle_problems)}`).toBe('ok');
    expect(Object.keys(byId)).toEqual(['ov-plain', 'ov-hybrid', 'ov-int8', 'ov-cache-cold', 'ov-cache-warm']);
  });

  it('an unquantized UNet has no FakeQuantize and runs no int8 kernel', () => {
    const unet = subs('ov-plain').unet;
    expect(unet).toMatchObject({ fake_quantize: 0, int8_ops: 0, weight_only_int8_ops: 0 });
    expect(unet.compute_ops).toBeGreaterThan(0);
    expect(byId['ov-plain'].effective.openvino.quantization).toMatchObject({ mode: 'none', calibration_samples: null });
    expect(openvino.dtype(byId['ov-plain'].effective)).toBe(unet.precision === 'bf16' ? 'bf16' : 'fp32');
  });

  it.each([
    ['ov-hybrid', 'hybrid'],
    ['ov-int8', 'int8'],
  ])('%s: the UNet IR has FakeQuantize ops and the compiled UNet runs int8 kernels', (id, mode) => {
    const { unet, text_encoder } = subs(id);
    expect(unet.fake_quantize).toBeGreaterThan(0);
    expect(unet.int8_ops).toBeGreaterThan(0);
    expect(unet.int8_by_layer.Convolution).toBeGreaterThan(0);
    expect(unet.int_weights).toBeGreaterThan(0);
    // The other models are weight-only int8: u8 weights, bf16/f32 kernels, no FakeQuantize.
    expect(text_encoder).toMatchObject({ fake_quantize: 0, int8_ops: 0 });
    expect(text_encoder.weight_only_int8_ops).toBeGreaterThan(0);
    const eff = byId[id].effective;
    expect(openvino.dtype(eff)).toBe('int8');
    expect(openvino.describe(eff)).toMatch(new RegExp(`^int8 ${mode} \\(OpenVINO, \\d+/\\d+ UNet ops in int8`));
    // num_samples counts UNet calls: 4 of them, from the first of the shipped prompts.
    expect(eff.openvino.quantization).toMatchObject({
      mode,
      calibration_samples: 4,
      calibration_unet_calls: 4,
      calibration_prompts: 1,
    });
    if (!eff.openvino.quantization.ir_cached) {
      // Quantization is timed apart from latency: calibration is a part of it, both inside the export.
      const t = byId[id].timings;
      expect(t.calibration_s).toBeGreaterThan(0);
      expect(t.quantize_s).toBeGreaterThan(t.calibration_s);
      expect(t.export_s).toBeGreaterThan(t.quantize_s);
    }
    // A distinct IR per mode: never the float one.
    expect(eff.openvino.ir_dir).not.toBe(byId['ov-plain'].effective.openvino.ir_dir);
  });

  it('a full int8 UNet runs every convolution and matrix product in int8; hybrid keeps some in float', () => {
    const int8 = subs('ov-int8').unet;
    const hybrid = subs('ov-hybrid').unet;
    expect(int8.int8_ops).toBe(int8.compute_ops);
    expect(hybrid.int8_ops).toBeLessThan(hybrid.compute_ops);
    expect(byId['ov-int8'].effective.openvino.ir_dir).not.toBe(byId['ov-hybrid'].effective.openvino.ir_dir);
  });

  it('reads the knobs back from every compiled model', () => {
    for (const name of SUBMODELS) {
      expect(subs('ov-int8')[name], name).toMatchObject({
        performance_hint: 'THROUGHPUT',
        streams: 1,
        hyper_threading: false,
        loaded_from_cache: false,
      });
      // Unset, the hint is optimum-intel's own.
      expect(subs('ov-plain')[name].performance_hint, name).toBe('LATENCY');
    }
  });

  it('compiles into the model cache, then loads every model from it', () => {
    const cold = byId['ov-cache-cold'].effective.openvino;
    const warm = byId['ov-cache-warm'].effective.openvino;
    expect(cold.model_cache).toMatchObject({ warm: false, blobs_before: 0 });
    expect(path.basename(cold.model_cache.dir)).toMatch(new RegExp(`-${SHAPE}x${SHAPE}-[0-9a-f]{8}$`));
    expect(cold.model_cache.blobs_after).toBeGreaterThanOrEqual(SUBMODELS.length);
    expect(warm.model_cache).toMatchObject({ warm: true, dir: cold.model_cache.dir });
    expect(warm.model_cache.blobs_after).toBe(cold.model_cache.blobs_after);
    for (const name of SUBMODELS) {
      expect(cold.submodels[name].loaded_from_cache, name).toBe(false);
      expect(warm.submodels[name].loaded_from_cache, name).toBe(true);
      expect(subs('ov-plain')[name].loaded_from_cache, name).toBe(false);
    }
    expect(byId['ov-plain'].effective.openvino.model_cache).toBeNull();
    for (const id of ['ov-plain', 'ov-cache-cold', 'ov-cache-warm']) {
      expect(byId[id].timings.compile_s, id).toBeGreaterThan(0);
    }
    expect(openvino.describe(byId['ov-cache-warm'].effective)).toMatch(/model cache warm$/);
  });

  it('catches a quantization that did not take effect', () => {
    expect(proveLoaded('ov-plain', {})).toEqual([]);
    const problems = proveLoaded('ov-plain', { quantization: 'hybrid' });
    expect(problems).toContain('quantization: asked hybrid, the unet IR has no FakeQuantize ops');
    expect(problems).toContain('quantization: asked hybrid, unet runs no int8 kernels');
    expect(problems).toContain('quantization: asked hybrid, the IR loaded was made with none');
    expect(proveLoaded('ov-plain', { quantization: 'int8' })).toContain(
      'quantization: asked int8, unet runs no int8 kernels',
    );
    // And the other way round: a quantized UNet where none was asked.
    const fq = subs('ov-hybrid').unet.fake_quantize;
    expect(proveLoaded('ov-hybrid', { quantization: 'none' })).toContain(
      `quantization: asked none, the unet IR has ${fq} FakeQuantize ops`,
    );
    // A calibration size the IR was not made with.
    expect(proveLoaded('ov-hybrid', { calibration_samples: 9 })).toEqual([
      'calibration_samples: asked 9 UNet calls, calibration collected 4',
    ]);
  });

  it('catches knobs that did not take effect, on every compiled model', () => {
    const ask = { num_streams: 2, performance_hint: 'THROUGHPUT', hyper_threading: true };
    const problems = proveLoaded('ov-plain', ask);
    for (const name of SUBMODELS) {
      expect(problems).toContain(`num_streams: asked 2, ${name} has 1`);
      expect(problems).toContain(`performance_hint: asked THROUGHPUT, ${name} has LATENCY`);
      expect(problems).toContain(`hyper_threading: asked true, ${name} has false`);
    }
    expect(problems).toHaveLength(3 * SUBMODELS.length);
    expect(proveLoaded('ov-plain', { model_cache: true })).toEqual(['model_cache: asked, the worker set no CACHE_DIR']);
    expect(proveLoaded('ov-cache-warm', { model_cache: false })).toContain(
      'model_cache: not asked, but unet was loaded from a compiled-model cache',
    );
  });
});
