// The stable-diffusion.cpp backend's proofs on a report shaped like the worker's: each toggle that did not
// take effect (the gguf file, its weight type, threads, the ISA ggml was built for, the sampler) is named.
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../src/backends/registry.ts';
import { dominantType } from '../../src/backends/sdcpp.ts';
import type { LaunchConfig } from '../../src/launcher/config.ts';

const sdcpp = getBackend('sdcpp');
const launcher = { threads: 2 } as LaunchConfig;
const DIR = '/cache/sdcpp/synthetic-sd15-b1-abc';

function effective(wtype: 'q8_0' | 'f16') {
  const path = `${DIR}/model-${wtype}.gguf`;
  return {
    scheduler: 'sd.cpp ipndm/discrete',
    runtime: {
      unet_calls: 2,
      autocast_dtype: null,
      unet_output_dtype: null,
      busy_threads: 2,
      sample_method: 'iPNDM',
      schedule: 'discrete',
      seed: 0,
      size: [64, 64],
    },
    sdcpp: {
      version: '0.4.7',
      sd_version: 'unknown',
      sd_commit: 'unknown',
      build: null,
      system_info: 'AVX = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1',
      isa: { AVX: true, AVX2: true, AVX512: true, AVX512_VNNI: true },
      isa_missing: [] as string[],
      weight_type: wtype,
      file: { path, bytes: 10, sha256_first_mb: 'ab' },
      // SD 1.5 at q8_0: the convolutions stay f32 and hold most of the UNet.
      file_types: {
        diffusion_model: wtype === 'q8_0' ? { f32: 700, q8_0: 300 } : { f32: 1, f16: 999 },
        vae: { f32: 10 },
      },
      loaded_path: path,
      model_version: 'SD 1.x',
      weight_stats: { diffusion_model: wtype === 'q8_0' ? { f32: 395, q8_0: 291 } : { f32: 300, f16: 386 } },
      n_threads: 2,
      logged_threads: 2,
      knobs_logged: {
        flash_attn: { text_encoder_vae: false, diffusion_model: false },
        conv_direct: { diffusion_model: false, vae: false },
      },
      sampler: { sample_method: 'ipndm', schedule: 'discrete', logged_as: 'iPNDM' },
    },
  };
}

const prove = (ask: Record<string, unknown>, eff: unknown, l: LaunchConfig = launcher) =>
  sdcpp.proveLoaded(sdcpp.options.parse(ask), eff, l);
const proveRuntime = (ask: Record<string, unknown>, eff: unknown) => sdcpp.proveRuntime(sdcpp.options.parse(ask), eff);

describe('sdcpp proofs', () => {
  it('accepts a context that did what was asked', () => {
    expect(prove({}, effective('q8_0'))).toEqual([]);
    expect(prove({ weight_type: 'f16', threads: 2 }, effective('f16'), {} as LaunchConfig)).toEqual([]);
    expect(proveRuntime({}, effective('q8_0'))).toEqual([]);
  });

  it('catches a gguf of another weight type: by its name, its tensors and sd.cpp’s own count', () => {
    expect(prove({ weight_type: 'f16' }, effective('q8_0'))).toEqual([
      `model: asked model-f16.gguf, the worker opened ${DIR}/model-q8_0.gguf`,
      'weight_type: asked f16, the UNet in the file is q8_0',
      'weight_type: asked f16, sd.cpp counted a q8_0 UNet',
    ]);
    // Right file name, but nothing in it quantized.
    const eff = effective('q8_0');
    eff.sdcpp.file_types.diffusion_model = { f32: 1000 } as never;
    eff.sdcpp.weight_stats.diffusion_model = { f32: 686 } as never;
    expect(prove({}, eff)).toEqual([
      'weight_type: asked q8_0, the UNet in the file is absent',
      'weight_type: asked q8_0, sd.cpp counted a missing UNet',
    ]);
  });

  it('catches a file sd.cpp did not log loading', () => {
    const eff = effective('q8_0');
    eff.sdcpp.loaded_path = '/elsewhere/model.safetensors';
    expect(prove({}, eff)).toEqual([
      `model: sd.cpp logged loading /elsewhere/model.safetensors, not ${DIR}/model-q8_0.gguf`,
    ]);
  });

  it('catches threads other than asked: in the context (the option, else the launcher’s) and at run time', () => {
    expect(prove({ threads: 1 }, effective('q8_0'))).toEqual(['threads: asked 1, the sd.cpp context has 2']);
    expect(prove({}, effective('q8_0'), { threads: 4 } as LaunchConfig)).toEqual([
      'threads: asked 4, the sd.cpp context has 2',
    ]);
    const lost = effective('q8_0');
    lost.sdcpp.logged_threads = 4;
    expect(prove({}, lost)).toEqual(['threads: passed 2, sd.cpp logged loading with 4']);
    const eff = effective('q8_0');
    eff.runtime.busy_threads = 1;
    expect(proveRuntime({}, eff)).toEqual(['threads: the context has 2, 1 threads ran the generation']);
  });

  it('catches a flash attention or direct convolution sd.cpp did not log turning on, or did unasked', () => {
    expect(prove({ flash_attn: true }, effective('q8_0'))).toEqual([
      'flash_attn: asked on, sd.cpp logged it off in the text_encoder_vae',
      'flash_attn: asked on, sd.cpp logged it off in the diffusion_model',
    ]);
    const eff = effective('q8_0');
    eff.sdcpp.knobs_logged.conv_direct.vae = true;
    expect(prove({}, eff)).toEqual(['conv_direct: asked off, sd.cpp logged it on in the vae']);
    expect(prove({ conv_direct: true }, eff)).toEqual([
      'conv_direct: asked on, sd.cpp logged it off in the diffusion_model',
    ]);
    const unread = effective('q8_0') as any;
    delete unread.sdcpp.knobs_logged.flash_attn;
    expect(prove({}, unread)).toEqual(['flash_attn: the worker did not read sd.cpp’s log for it']);
  });

  it('catches a ggml built without an ISA extension this CPU has', () => {
    const eff = effective('q8_0');
    eff.sdcpp.isa_missing = ['AVX512', 'AVX512_VNNI'];
    expect(prove({}, eff)).toEqual(['isa: ggml was built without AVX512, AVX512_VNNI, which this CPU has']);
  });

  it('catches a sampler or schedule other than the scheduler maps to', () => {
    expect(proveRuntime({ scheduler: 'dpm' }, effective('q8_0'))).toEqual([
      'scheduler: asked DPM++ (2M), sd.cpp sampled with iPNDM',
    ]);
    const eff = effective('q8_0');
    eff.runtime.schedule = 'Karras';
    expect(proveRuntime({}, eff)).toEqual(['scheduler: asked the discrete schedule, sd.cpp used Karras']);
  });

  it('catches a context that is missing, and a generation that ran no step', () => {
    expect(prove({}, {})).toEqual(['sdcpp: worker reported no stable-diffusion.cpp context']);
    const idle = effective('q8_0');
    idle.runtime.unet_calls = 0;
    expect(proveRuntime({}, idle)).toEqual(['runtime: sd.cpp ran no sampling step']);
    expect(proveRuntime({}, { sdcpp: effective('q8_0').sdcpp })).toEqual([
      'runtime: the worker did not report what sd.cpp ran',
    ]);
  });

  it('reads the dtype from what holds most of the UNet: fp32 where the convolutions stayed f32', () => {
    expect(sdcpp.dtype(effective('q8_0'))).toBe('fp32');
    const mostly = effective('q8_0');
    mostly.sdcpp.file_types.diffusion_model = { f32: 100, q8_0: 900 };
    expect(sdcpp.dtype(mostly)).toBe('int8');
    expect(sdcpp.dtype(effective('f16'))).toBe('fp32');
    expect(dominantType({ f32: 700, q8_0: 300 })).toBe('q8_0');
    expect(dominantType({ f32: 700, q8_0: 300 }, true)).toBe('f32');
    expect(sdcpp.describe(effective('q8_0'))).toBe(
      'q8_0 gguf (stable-diffusion.cpp unknown, AVX512_VNNI, 2 threads, ipndm/discrete, own noise)',
    );
  });

  it('is judged against sd.cpp’s own f32 image of the same scheduler, which proves its f32 too', () => {
    expect(sdcpp.reference(sdcpp.options.parse({ scheduler: 'dpm' }))).toEqual({
      backend: 'sdcpp',
      options: { scheduler: 'dpm', weight_type: 'f32' },
    });
    expect(sdcpp.reference(sdcpp.options.parse({ weight_type: 'f32' }))).toBe('self');
    const f32 = effective('f16');
    f32.sdcpp.file.path = f32.sdcpp.loaded_path = `${DIR}/model-f32.gguf`;
    f32.sdcpp.weight_type = 'f32' as never;
    f32.sdcpp.file_types.diffusion_model = { f32: 1000 } as never;
    f32.sdcpp.weight_stats.diffusion_model = { f32: 686 } as never;
    expect(prove({ weight_type: 'f32' }, f32)).toEqual([]);
    expect(sdcpp.describe(f32)).toMatch(/^f32 gguf \(stable-diffusion\.cpp /);
    expect(prove({ weight_type: 'f32' }, { ...effective('f16'), sdcpp: { ...effective('f16').sdcpp } })).toEqual([
      `model: asked model-f32.gguf, the worker opened ${DIR}/model-f16.gguf`,
      'weight_type: asked f32, the UNet in the file is f16',
      'weight_type: asked f32, sd.cpp counted a f16 UNet',
    ]);
  });

  it('refuses options it does not know', () => {
    expect(() => sdcpp.options.parse({ weight_type: 'q4_0' })).toThrow();
    expect(() => sdcpp.options.parse({ threads: 0 })).toThrow();
    expect(() => sdcpp.options.parse({ rng: 'cpu' })).toThrow();
  });
});
