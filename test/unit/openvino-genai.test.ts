// The openvino-genai backend's proofs on a report shaped like the worker's: each toggle that did not reach
// GenAI's pipeline (precision, threads, static shapes, the IR and its quantization, the shared latents) is named.
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../src/backends/registry.ts';
import type { LaunchConfig } from '../../src/launcher/config.ts';

const genai = getBackend('openvino-genai');
const launcher = { threads: 2 } as LaunchConfig;
const IR = '/cache/openvino-ir/synthetic-tiny-abc';

function network(name: string, inputs: [string, string][], extra: Record<string, unknown> = {}) {
  const file = (f: string) => ({ path: `${IR}/${name}/${f}`, bytes: 10, sha256_first_mb: 'ab' });
  return {
    xml: file('openvino_model.xml'),
    bin: file('openvino_model.bin'),
    inputs: inputs.map(([n, shape]) => ({ name: n, shape, static: !shape.includes('?') })),
    ...extra,
  };
}

function effective(precision: 'bf16' | 'f32', int8 = false) {
  return {
    backend: 'openvino-genai',
    scheduler: 'PNDMScheduler',
    runtime: { unet_calls: 3, autocast_dtype: null, unet_output_dtype: 'float32', latent_draws: [[[1, 4, 8, 8]]] },
    openvino_genai: {
      version: '2026.4.1.0-3408-ab01d1771e4',
      openvino_version: '2026.4.1-20910-0f4a1a5a3b2',
      ir_dir: IR,
      ir_quantization: int8
        ? { mode: 'int8', calibration_unet_calls: 50 }
        : { mode: 'none', calibration_unet_calls: null },
      properties: { INFERENCE_PRECISION_HINT: precision, INFERENCE_NUM_THREADS: 2 },
      scheduler_type: 'PNDM',
      networks: {
        text_encoder: network('text_encoder', [['input_ids', '[2,77]']]),
        unet: network(
          'unet',
          [
            ['sample', '[2,4,8,8]'],
            ['timestep', '[1]'],
            ['encoder_hidden_states', '[2,77,32]'],
          ],
          { fake_quantize: int8 ? 40 : 0, int_weights: int8 ? 30 : 0 },
        ),
        vae_decoder: network('vae_decoder', [['latent_sample', '[1,4,8,8]']]),
      },
      unet_check: {
        precision,
        threads: 2,
        execution_devices: ['CPU'],
        busy_threads: 2,
        busy_ticks: [14, 8],
        compute_ops: 83,
        int8_ops: int8 ? 83 : 0,
        max_abs_diff: 0,
        other_precision: precision === 'bf16' ? 'f32' : 'bf16',
        other_precision_max_abs_diff: 0.03,
      },
    },
  };
}

const prove = (ask: Record<string, unknown>, eff: unknown, l: LaunchConfig = launcher) =>
  genai.proveLoaded(genai.options.parse(ask), eff, l);

describe('openvino-genai proofs', () => {
  it('accepts a pipeline that did what was asked', () => {
    expect(prove({ precision: 'bf16' }, effective('bf16'))).toEqual([]);
    expect(prove({}, effective('bf16'))).toEqual([]); // auto: OpenVINO's own choice
    expect(prove({ precision: 'bf16', quantization: 'int8' }, effective('bf16', true))).toEqual([]);
    expect(genai.proveRuntime(genai.options.parse({}), effective('bf16'))).toEqual([]);
  });

  it('catches a precision other than asked, and a GenAI UNet that is not its IR at that precision', () => {
    expect(prove({ precision: 'f32' }, effective('bf16'))).toEqual([
      'precision: asked f32, the UNet compiled with GenAI’s properties runs bf16',
    ]);
    const eff = effective('bf16');
    eff.openvino_genai.unet_check.max_abs_diff = 0.5;
    expect(prove({}, eff)).toEqual([
      'unet: GenAI’s output differs from the IR compiled with its properties (bf16) by 0.5',
    ]);
    eff.openvino_genai.unet_check.max_abs_diff = 0;
    eff.openvino_genai.unet_check.other_precision_max_abs_diff = 0;
    expect(prove({}, eff)).toEqual(['unet: the check cannot tell bf16 from f32 (same output)']);
    const unchecked = effective('bf16') as any;
    delete unchecked.openvino_genai.unet_check;
    expect(prove({}, unchecked)).toEqual(['unet: the worker could not compare GenAI’s UNet with a compile of its IR']);
  });

  it('catches a UNet compiled for another device', () => {
    const eff = effective('bf16');
    eff.openvino_genai.unet_check.execution_devices = ['GPU.0'];
    expect(prove({}, eff)).toEqual(['devices: the UNet compiled with GenAI’s properties runs on GPU.0']);
  });

  it('catches threads other than the launcher’s', () => {
    expect(prove({}, effective('bf16'), { threads: 4 } as LaunchConfig)).toEqual([
      'threads: asked 4, GenAI was given 2',
      'threads: asked 4, the UNet compiled with GenAI’s properties has 2',
      'threads: asked 4, GenAI’s UNet kept 2 threads busy',
    ]);
    // Given 2 and compiled with 2, yet GenAI's UNet worked on one thread.
    const eff = effective('bf16');
    eff.openvino_genai.unet_check.busy_threads = 1;
    expect(prove({}, eff)).toEqual(['threads: asked 2, GenAI’s UNet kept 1 threads busy']);
    expect(prove({}, effective('bf16'), {} as LaunchConfig)).toEqual([]);
  });

  it('catches a dynamic input, an unexported network and a file from another IR', () => {
    const eff = effective('bf16') as any;
    eff.openvino_genai.networks.unet.inputs[0] = { name: 'sample', shape: '[?,4,?,?]', static: false };
    eff.openvino_genai.networks.text_encoder.inputs = null;
    eff.openvino_genai.networks.vae_decoder.bin.path = '/other/vae_decoder/openvino_model.bin';
    expect(prove({}, eff)).toEqual([
      "static shape: text_encoder's compiled model could not be exported",
      'static shape: unet input sample is [?,4,?,?]',
      `vae_decoder: loaded /other/vae_decoder/openvino_model.bin, not from ${IR}`,
    ]);
  });

  it('catches an IR of another quantization or calibration, and int8 that is not there', () => {
    expect(prove({ quantization: 'int8' }, effective('bf16'))).toEqual([
      'quantization: asked int8, the IR loaded was made with none',
      'quantization: asked int8, the unet IR has no FakeQuantize ops',
      'quantization: asked int8, the unet runs no int8 kernels',
    ]);
    expect(prove({}, effective('bf16', true))).toEqual([
      'quantization: asked none, the IR loaded was made with int8',
      'quantization: asked none, the unet IR has 40 FakeQuantize ops',
      'quantization: asked none, the unet runs 83 int8 kernels',
    ]);
    expect(prove({ quantization: 'int8', calibration_samples: 4 }, effective('bf16', true))).toEqual([
      'calibration_samples: asked 4 UNet calls, the IR was calibrated on 50',
    ]);
  });

  it('catches a GenAI release other than openvino’s, and a missing network or report', () => {
    const eff = effective('bf16') as any;
    eff.openvino_genai.version = '2026.3.0.0-1-abc';
    delete eff.openvino_genai.networks.vae_decoder;
    expect(prove({}, eff)).toEqual([
      'versions: openvino-genai 2026.3.0.0-1-abc beside openvino 2026.4.1-20910-0f4a1a5a3b2',
      'openvino-genai: no vae_decoder',
    ]);
    expect(prove({}, {})).toEqual(['openvino-genai: worker reported no pipeline']);
  });

  it('catches latents not drawn once from the shared Generator, and a UNet that never ran', () => {
    const o = genai.options.parse({});
    const eff = effective('bf16');
    eff.runtime.latent_draws = [
      [
        [1, 4, 8, 8],
        [1, 4, 8, 8],
      ],
    ];
    expect(genai.proveRuntime(o, eff)).toEqual([
      'latents: GenAI drew [[[1,4,8,8],[1,4,8,8]]] from the shared Generator, not the initial latents once',
    ]);
    eff.runtime.unet_calls = 0;
    expect(genai.proveRuntime(o, eff)).toEqual(['runtime: GenAI’s UNet never ran']);
  });

  it('refuses DPM-Solver (GenAI has none) and options it does not know', () => {
    expect(() => genai.options.parse({ scheduler: 'dpm' })).toThrow(
      /GenAI has no DPMSolverMultistepScheduler \(it has PNDMScheduler, /,
    );
    expect(() => genai.options.parse({ static_shape: false })).toThrow();
    expect(() => genai.options.parse({ precision: 'int8' })).toThrow();
  });

  it('reads the dtype from the UNet check, and says so', () => {
    expect(genai.dtype(effective('bf16'))).toBe('bf16');
    expect(genai.dtype(effective('f32'))).toBe('fp32');
    expect(genai.dtype(effective('bf16', true))).toBe('int8');
    expect(genai.describe(effective('bf16'))).toBe('bf16 (OpenVINO GenAI 2026.4.1, PNDM, static shapes)');
    expect(genai.describe(effective('bf16', true))).toBe(
      'int8 (OpenVINO GenAI 2026.4.1, PNDM, static shapes, 83/83 UNet ops in int8, rest bf16)',
    );
    expect(genai.reference(genai.options.parse({}))).toEqual({ backend: 'torch', options: { scheduler: 'default' } });
  });
});
