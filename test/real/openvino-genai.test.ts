import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { getBackend } from '../../src/backends/registry.ts';
import type { LaunchConfig } from '../../src/launcher/config.ts';
import { compareImages, readNpy } from '../../src/results/quality.ts';
import { type ladder, reproduceYaml, TINY, tmpDir } from '../helpers.ts';

const LADDER = `
name: openvino-genai-peer
rungs:
  - id: genai-bf16
    backend: openvino-genai
    launcher: { threads: 2 }
    options: { precision: bf16 }
  - id: genai-f32
    extends: genai-bf16
    options: { precision: f32 }
  # One thread too: the threads proof's other count, in a worker the suite runs anyway.
  - id: genai-int8
    extends: genai-bf16
    launcher: { threads: 1 }
    options: { quantization: int8, calibration_samples: 4 }
  - id: openvino-f32
    backend: openvino
    launcher: { threads: 2 }
    options: { static_shape: true, precision: f32 }
`;

const NETWORKS = ['text_encoder', 'unet', 'vae_decoder'];
const GENAI = ['genai-bf16', 'genai-f32', 'genai-int8'];
const genai = getBackend('openvino-genai');

describe('OpenVINO GenAI peer (synthetic:tiny)', () => {
  const out = tmpDir();
  let result: Awaited<ReturnType<typeof ladder>>;
  let byId: Record<string, any>;

  beforeAll(async () => {
    // 256x256, not the smoke 64x64: at 8x8 latents GenAI's UNet nodes mostly finish on the calling thread
    // while the pool thread wakes, so on a busy machine (CI runs pytest beside) its second thread could
    // show no work and the threads proof fail for the test's sake, not GenAI's.
    const size = ['--height', '256', '--width', '256'];
    ({ result, byId } = await reproduceYaml(out, LADDER, [...TINY, ...size, '--passes', '2', '--no-roofline']));
  }, 900_000);

  const eff = (id: string) => byId[id].effective;
  const g = (id: string) => eff(id).openvino_genai;
  const proveLoaded = (id: string, options: Record<string, unknown>, launcher?: LaunchConfig, report?: unknown) =>
    genai.proveLoaded(
      genai.options.parse({ ...byId[id].config.options, ...options }),
      report ?? eff(id),
      launcher ?? (byId[id].config.launcher as LaunchConfig),
    );
  const image = (id: string) => readNpy(path.join(out, 'run', byId[id].image)).data;

  it('runs every rung with its toggles proven', () => {
    expect(result.exitCode, result.all).toBe(0);
    for (const r of Object.values(byId))
      expect(r.status, `${r.id}: ${r.error ?? JSON.stringify(r.toggle_problems)}`).toBe('ok');
  });

  it('loads the openvino backend’s own IR: the same float IR as the openvino rung, the int8 one apart', () => {
    expect(g('genai-bf16').ir_dir).toBe(eff('openvino-f32').openvino.ir_dir);
    expect(g('genai-f32').ir_dir).toBe(g('genai-bf16').ir_dir);
    expect(g('genai-int8').ir_dir).not.toBe(g('genai-bf16').ir_dir);
    for (const id of GENAI) {
      for (const name of NETWORKS) {
        const n = g(id).networks[name];
        expect(n.xml.path, `${id} ${name}`).toBe(`${g(id).ir_dir}/${name}/openvino_model.xml`);
        expect(n.bin.sha256_first_mb, `${id} ${name}`).toMatch(/^[0-9a-f]{64}$/);
      }
    }
    expect(g('genai-int8').networks.unet.bin.sha256_first_mb).not.toBe(
      g('genai-bf16').networks.unet.bin.sha256_first_mb,
    );
    expect(g('genai-bf16').ir_quantization).toEqual({ mode: 'none', calibration_unet_calls: null });
    expect(g('genai-int8').ir_quantization).toEqual({ mode: 'int8', calibration_unet_calls: 4 });
  });

  it('runs static shapes: batch 2 for guidance, the run’s 256x256 (latents 32x32)', () => {
    for (const id of GENAI) {
      const shapes = (name: string) => g(id).networks[name].inputs.map((i: { shape: string }) => i.shape);
      expect(shapes('unet'), id).toEqual(['[2,4,32,32]', '[1]', '[2,77,32]']);
      expect(shapes('text_encoder'), id).toEqual(['[2,77]']);
      expect(shapes('vae_decoder'), id).toEqual(['[1,4,32,32]']);
    }
  });

  it('GenAI’s UNet gives, bit for bit, what its IR compiled with the same precision and threads gives', () => {
    const cases = { 'genai-bf16': ['bf16', 2], 'genai-f32': ['f32', 2], 'genai-int8': ['bf16', 1] } as const;
    for (const [id, [precision, threads]] of Object.entries(cases)) {
      const check = g(id).unet_check;
      expect(check, id).toMatchObject({ precision, threads, execution_devices: ['CPU'], max_abs_diff: 0 });
      // Counted from the CPU time of the worker's threads while GenAI's own UNet ran.
      expect(check.busy_threads, `${id} ${JSON.stringify(check.busy_ticks)}`).toBe(threads);
      expect(check.other_precision_max_abs_diff, id).toBeGreaterThan(0);
      expect(g(id).properties, id).toMatchObject({
        INFERENCE_NUM_THREADS: threads,
        INFERENCE_PRECISION_HINT: precision,
      });
    }
    expect(genai.dtype(eff('genai-bf16'))).toBe('bf16');
    expect(genai.dtype(eff('genai-f32'))).toBe('fp32');
    expect(genai.describe(eff('genai-f32'))).toMatch(/^f32 \(OpenVINO GenAI 2026\.\d+\.\d+, PNDM, static shapes\)$/);
  });

  it('has int8 in the UNet exactly when int8 was asked', () => {
    const int8 = g('genai-int8');
    expect(int8.networks.unet.fake_quantize).toBeGreaterThan(0);
    expect(int8.unet_check.int8_ops).toBeGreaterThan(0);
    expect(genai.dtype(eff('genai-int8'))).toBe('int8');
    for (const id of ['genai-bf16', 'genai-f32']) {
      expect(g(id).networks.unet.fake_quantize, id).toBe(0);
      expect(g(id).unet_check.int8_ops, id).toBe(0);
    }
  });

  it('reports openvino-genai at openvino’s own release, and PNDM from the model’s scheduler config', () => {
    for (const id of GENAI) {
      expect(g(id).version.split('-')[0], id).toMatch(/^2026\.4\.1/);
      expect(g(id).openvino_version, id).toMatch(/^2026\.4\.1/);
      expect(eff(id).scheduler, id).toBe('PNDMScheduler');
      expect(g(id).scheduler_type, id).toBe('PNDM');
    }
  });

  it('starts from the shared latents: GenAI’s f32 image is the openvino rung’s f32 image', () => {
    for (const id of GENAI) expect(eff(id).runtime.latent_draws, id).toEqual([[[1, 4, 32, 32]]]);
    // Same IR, latents, scheduler (GenAI's PNDM against diffusers'), f32: only uint8 rounding apart.
    const same = compareImages(image('genai-f32'), image('openvino-f32'));
    expect(same.psnr_db, JSON.stringify(same)).toBeGreaterThan(45);
    // Judged like every rung against the fp32 PyTorch image; on tiny the openvino stack itself sits near 29 dB.
    for (const id of GENAI) {
      expect(byId[id].quality.reference, id).toMatch(/^images\/reference/);
      expect(byId[id].quality.psnr_db, id).toBeGreaterThan(20);
    }
  });

  it('times the text encoder, each UNet call and the VAE from GenAI’s own metrics', () => {
    for (const id of GENAI) {
      for (const pass of byId[id].components) {
        expect(pass.unet_steps_s, id).toHaveLength(3); // PNDM: steps + 1 calls
        expect(pass.unet_s, id).toBeGreaterThan(0);
        expect(pass.vae_decode_s, id).toBeGreaterThan(0);
        expect(pass.safety_checker_s, id).toBe(0); // GenAI runs none
      }
    }
  });

  it('catches a precision GenAI’s UNet does not run in', () => {
    expect(proveLoaded('genai-bf16', {})).toEqual([]);
    expect(proveLoaded('genai-bf16', { precision: 'f32' })).toEqual([
      'precision: asked f32, the UNet compiled with GenAI’s properties runs bf16',
    ]);
    const report = structuredClone(eff('genai-bf16'));
    report.openvino_genai.unet_check.max_abs_diff = 0.0275; // GenAI's UNet ran another precision than asked
    expect(proveLoaded('genai-bf16', {}, undefined, report)).toEqual([
      'unet: GenAI’s output differs from the IR compiled with its properties (bf16) by 0.0275',
    ]);
  });

  it('runs GenAI’s UNet on the launcher’s thread count, counted from the worker’s threads', () => {
    const one = g('genai-int8');
    expect(one.properties.INFERENCE_NUM_THREADS).toBe(1);
    expect(one.unet_check.busy_threads, JSON.stringify(one.unet_check.busy_ticks)).toBe(1);
    expect(g('genai-bf16').unet_check.busy_threads).toBe(2);
    expect(proveLoaded('genai-int8', {}, { threads: 2 } as LaunchConfig)).toEqual([
      'threads: asked 2, GenAI was given 1',
      'threads: asked 2, the UNet compiled with GenAI’s properties has 1',
      'threads: asked 2, GenAI’s UNet kept 1 threads busy',
    ]);
  });

  it('catches threads that did not reach GenAI', () => {
    expect(proveLoaded('genai-bf16', {}, { threads: 3 } as LaunchConfig)).toEqual([
      'threads: asked 3, GenAI was given 2',
      'threads: asked 3, the UNet compiled with GenAI’s properties has 2',
      'threads: asked 3, GenAI’s UNet kept 2 threads busy',
    ]);
  });

  it('catches an int8 UNet that is not there, and one where none was asked', () => {
    const problems = proveLoaded('genai-bf16', { quantization: 'int8', calibration_samples: 4 });
    expect(problems).toEqual([
      'quantization: asked int8, the IR loaded was made with none',
      'quantization: asked int8, the unet IR has no FakeQuantize ops',
      'quantization: asked int8, the unet runs no int8 kernels',
    ]);
    const fq = g('genai-int8').networks.unet.fake_quantize;
    const ops = g('genai-int8').unet_check.int8_ops;
    expect(proveLoaded('genai-int8', { quantization: 'none' })).toEqual([
      'quantization: asked none, the IR loaded was made with int8',
      `quantization: asked none, the unet IR has ${fq} FakeQuantize ops`,
      `quantization: asked none, the unet runs ${ops} int8 kernels`,
    ]);
    expect(proveLoaded('genai-int8', { calibration_samples: 8 })).toEqual([
      'calibration_samples: asked 8 UNet calls, the IR was calibrated on 4',
    ]);
  });

  it('catches a dynamic input and a network read from elsewhere', () => {
    const report = structuredClone(eff('genai-bf16'));
    report.openvino_genai.networks.unet.inputs[0] = { name: 'sample', shape: '[?,4,?,?]', static: false };
    report.openvino_genai.networks.vae_decoder.xml.path = '/elsewhere/vae_decoder/openvino_model.xml';
    expect(proveLoaded('genai-bf16', {}, undefined, report)).toEqual([
      'static shape: unet input sample is [?,4,?,?]',
      `vae_decoder: loaded /elsewhere/vae_decoder/openvino_model.xml, not from ${g('genai-bf16').ir_dir}`,
    ]);
  });

  it('catches latents GenAI did not take from the shared Generator', () => {
    const o = genai.options.parse(byId['genai-bf16'].config.options);
    expect(genai.proveRuntime(o, eff('genai-bf16'))).toEqual([]);
    const report = structuredClone(eff('genai-bf16'));
    report.runtime.latent_draws = [[]];
    expect(genai.proveRuntime(o, report)).toEqual([
      'latents: GenAI drew [[]] from the shared Generator, not the initial latents once',
    ]);
  });
});
