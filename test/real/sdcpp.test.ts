import { beforeAll, describe, expect, it } from 'vitest';
import { getBackend } from '../../src/backends/registry.ts';
import type { LaunchConfig } from '../../src/launcher/config.ts';
import { type ladder, reproduceYaml, tmpDir } from '../helpers.ts';

const LADDER = `
name: sdcpp-peer
rungs:
  - id: sdcpp-q8_0
    backend: sdcpp
    launcher: { threads: 2 }
  - id: sdcpp-f16
    extends: sdcpp-q8_0
    options: { weight_type: f16 }
  # Every knob in one rung (each has its own proof): one worker loading a gguf of SD 1.5's size, not two.
  - id: sdcpp-knobs
    extends: sdcpp-q8_0
    options: { threads: 1, scheduler: dpm, flash_attn: true, conv_direct: true }
  - id: sdcpp-f32
    extends: sdcpp-q8_0
    options: { weight_type: f32 }
`;
const SDCPP = ['sdcpp-q8_0', 'sdcpp-f16', 'sdcpp-knobs', 'sdcpp-f32'];

const sdcpp = getBackend('sdcpp');

describe('stable-diffusion.cpp peer (synthetic:sd15, 64x64, 2 steps)', () => {
  const out = tmpDir();
  let result: Awaited<ReturnType<typeof ladder>>;
  let run: any;
  let byId: Record<string, any>;

  beforeAll(async () => {
    ({ result, run, byId } = await reproduceYaml(out, LADDER, [
      '--profile',
      'smoke',
      '--no-machine-probe',
      '--model',
      'synthetic:sd15',
      '--steps',
      '2',
      '--warmup-steps',
      '1',
      '--passes',
      '1',
      '--height',
      '64',
      '--width',
      '64',
      '--no-roofline',
    ]));
  }, 1_800_000);

  const eff = (id: string) => byId[id].effective;
  const parse = (id: string, options: Record<string, unknown>) =>
    sdcpp.options.parse({ ...byId[id].config.options, ...options });
  const proveLoaded = (id: string, options: Record<string, unknown>, launcher?: LaunchConfig) =>
    sdcpp.proveLoaded(parse(id, options), eff(id), launcher ?? (byId[id].config.launcher as LaunchConfig));
  const proveRuntime = (id: string, options: Record<string, unknown>, report = eff(id)) =>
    sdcpp.proveRuntime(parse(id, options), report);

  it('runs every rung with its toggles proven', () => {
    expect(result.exitCode, result.all).toBe(0);
    expect(Object.keys(byId)).toEqual(SDCPP);
    for (const r of Object.values(byId))
      expect(r.status, `${r.id}: ${r.error ?? JSON.stringify(r.toggle_problems)}`).toBe('ok');
  });

  it('loads the gguf converted for its weight type, the one sd.cpp logged loading', () => {
    for (const id of SDCPP) {
      const s = eff(id).sdcpp;
      const wtype = byId[id].config.options.weight_type ?? 'q8_0';
      expect(s.file.path, id).toMatch(new RegExp(`/sdcpp/synthetic-sd15-b\\d+-[0-9a-f]{12}/model-${wtype}\\.gguf$`));
      expect(s.loaded_path, id).toBe(s.file.path);
      expect(s.file.bytes, id).toBeGreaterThan(0);
      expect(s.file.sha256_first_mb, id).toMatch(/^[0-9a-f]{64}$/);
      expect(s.model_version, id).toBe('SD 1.x');
      expect(s.converted.source, id).toBe(eff(id).model.path);
    }
    // q8_0 and f16 are two files; the knobs rung reuses the q8_0 one.
    expect(eff('sdcpp-f16').sdcpp.file.sha256_first_mb).not.toBe(eff('sdcpp-q8_0').sdcpp.file.sha256_first_mb);
    expect(eff('sdcpp-knobs').sdcpp.file).toEqual(eff('sdcpp-q8_0').sdcpp.file);
    expect(eff('sdcpp-knobs').sdcpp.converted.cached).toBe(true);
  });

  it('holds the asked weight type, in the file and in sd.cpp’s own count; catches a type not asked', () => {
    const q8 = eff('sdcpp-q8_0').sdcpp;
    expect(q8.weight_stats.diffusion_model.q8_0).toBeGreaterThan(0);
    expect(q8.file_types.diffusion_model.q8_0).toBeGreaterThan(0);
    // The 3x3 and 1x1 convolutions' rows are not multiples of q8_0's 32-value blocks: they stay f32, and in
    // SD 1.5 they hold most of the UNet, so its FLOPs are placed against the fp32 peak.
    expect(q8.file_types.diffusion_model.f32).toBeGreaterThan(q8.file_types.diffusion_model.q8_0);
    expect(sdcpp.dtype(eff('sdcpp-q8_0'))).toBe('fp32');
    const f16 = eff('sdcpp-f16').sdcpp;
    expect(f16.file_types.diffusion_model.q8_0).toBeUndefined();
    expect(f16.weight_stats.diffusion_model.f16).toBeGreaterThan(0);

    const problems = proveLoaded('sdcpp-q8_0', { weight_type: 'f16' });
    expect(problems).toContain(`model: asked model-f16.gguf, the worker opened ${q8.file.path}`);
    expect(problems).toContain('weight_type: asked f16, the UNet in the file is q8_0');
    expect(problems).toContain('weight_type: asked f16, sd.cpp counted a q8_0 UNet');
    expect(proveLoaded('sdcpp-f16', { weight_type: 'q8_0' })).toContain(
      'weight_type: asked q8_0, sd.cpp counted a f16 UNet',
    );
  });

  it('ran the threads asked, counted from the threads that did the work; catches threads not taken', () => {
    expect(eff('sdcpp-q8_0').sdcpp.n_threads).toBe(2); // unset: the launcher's thread count
    expect(eff('sdcpp-q8_0').runtime.busy_threads).toBe(2);
    expect(eff('sdcpp-q8_0').sdcpp.logged_threads).toBe(2); // sd.cpp's own count
    expect(eff('sdcpp-knobs').sdcpp.n_threads).toBe(1);
    expect(eff('sdcpp-knobs').sdcpp.logged_threads).toBe(1);
    expect(eff('sdcpp-knobs').runtime.busy_threads).toBe(1);
    expect(proveLoaded('sdcpp-q8_0', { threads: 1 })).toEqual(['threads: asked 1, the sd.cpp context has 2']);
    expect(proveLoaded('sdcpp-knobs', { threads: undefined }, { threads: 2 } as LaunchConfig)).toEqual([
      'threads: asked 2, the sd.cpp context has 1',
    ]);
    const q8 = eff('sdcpp-q8_0');
    const relogged = { ...q8, sdcpp: { ...q8.sdcpp, logged_threads: 1 } };
    expect(sdcpp.proveLoaded(parse('sdcpp-q8_0', {}), relogged, byId['sdcpp-q8_0'].config.launcher)).toEqual([
      'threads: passed 2, sd.cpp logged loading with 1',
    ]);
    // A context that says 2 threads while one did the work.
    const oneRan = { ...eff('sdcpp-q8_0'), runtime: eff('sdcpp-knobs').runtime };
    expect(proveRuntime('sdcpp-q8_0', { scheduler: 'dpm' }, oneRan)).toEqual([
      'threads: the context has 2, 1 threads ran the generation',
    ]);
  });

  it('runs a ggml built from source for this CPU, and says how it was built', () => {
    const s = eff('sdcpp-q8_0').sdcpp;
    expect(s.version).toBe('0.4.7');
    expect(s.isa_missing).toEqual([]);
    expect(s.isa.AVX2).toBe(run.machine.isa.avx2 === true);
    if (run.machine.isa.avx512f !== undefined) expect(s.isa.AVX512).toBe(run.machine.isa.avx512f);
    expect(s.build.cmake_args).toContain('-DGGML_NATIVE=ON');
    expect(s.build.build_wall_s).toBeGreaterThan(0);
    expect(s.build.system_info).toBe(s.system_info);
    const built = { ...eff('sdcpp-q8_0'), sdcpp: { ...s, isa_missing: ['AVX512'] } };
    expect(sdcpp.proveLoaded(parse('sdcpp-q8_0', {}), built, byId['sdcpp-q8_0'].config.launcher)).toEqual([
      'isa: ggml was built without AVX512, which this CPU has',
    ]);
  });

  it('sampled with the sampler the scheduler maps to, at the seed and size asked; catches another', () => {
    expect(eff('sdcpp-q8_0').runtime).toMatchObject({ sample_method: 'iPNDM', schedule: 'discrete', seed: 0 });
    expect(eff('sdcpp-knobs').runtime).toMatchObject({ sample_method: 'DPM++ (2M)', schedule: 'discrete' });
    expect(eff('sdcpp-q8_0').runtime.size).toEqual([64, 64]);
    expect(eff('sdcpp-q8_0').runtime.unet_calls).toBe(1); // the warm-up's one step
    expect(proveRuntime('sdcpp-q8_0', { scheduler: 'dpm' })).toEqual([
      'scheduler: asked DPM++ (2M), sd.cpp sampled with iPNDM',
    ]);
    expect(proveRuntime('sdcpp-knobs', { scheduler: 'default' })).toEqual([
      'scheduler: asked iPNDM, sd.cpp sampled with DPM++ (2M)',
    ]);
  });

  it('turned on flash attention and direct convolutions where asked, as sd.cpp logged; catches them off', () => {
    expect(eff('sdcpp-knobs').sdcpp.knobs_logged).toEqual({
      flash_attn: { text_encoder_vae: true, diffusion_model: true },
      conv_direct: { diffusion_model: true, vae: true },
    });
    expect(Object.values(eff('sdcpp-q8_0').sdcpp.knobs_logged).flatMap((k: any) => Object.values(k))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(proveLoaded('sdcpp-q8_0', { flash_attn: true })).toEqual([
      'flash_attn: asked on, sd.cpp logged it off in the text_encoder_vae',
      'flash_attn: asked on, sd.cpp logged it off in the diffusion_model',
    ]);
    expect(proveLoaded('sdcpp-knobs', { conv_direct: false })).toEqual([
      'conv_direct: asked off, sd.cpp logged it on in the diffusion_model',
      'conv_direct: asked off, sd.cpp logged it on in the vae',
    ]);
    // Same noise and weights: the knobs change the arithmetic's order, not the image.
    expect(byId['sdcpp-knobs'].quality.psnr_db).toBeGreaterThan(30);
  });

  it('times text encoding, each step and the VAE decode from sd.cpp itself', () => {
    for (const id of SDCPP) {
      const [pass] = byId[id].components;
      expect(pass.unet_steps_s, id).toHaveLength(2);
      expect(pass.text_encoding_s, id).toBeGreaterThan(0);
      expect(pass.vae_decode_s, id).toBeGreaterThan(0);
      expect(pass.safety_checker_s, id).toBe(0);
    }
  });

  // Not against PyTorch's fp32 image: sd.cpp draws its own noise and runs its own text pipeline, so the
  // two differ from the first step (13 dB apart at 64x64, 2 steps, in stop 27's runs of this file, which
  // had a torch rung for it: a 40-second worker of SD 1.5's size, dropped to keep the suite in time).
  it('judges its image against sd.cpp’s own f32 image of the same scheduler', () => {
    expect(byId['sdcpp-f32'].quality.reference).toBe('images/sdcpp-f32.npy');
    expect(byId['sdcpp-q8_0'].quality.reference).toBe('images/sdcpp-f32.npy');
    expect(byId['sdcpp-f16'].quality.reference).toBe('images/sdcpp-f32.npy');
    expect(byId['sdcpp-knobs'].quality.reference).toBe('images/reference-sdcpp-dpm.npy');
    expect(eff('sdcpp-f32').sdcpp.file_types.diffusion_model).toEqual({
      f32: expect.any(Number),
    });
    // q8_0 and f16 weights, the same noise: close to the f32 image, never identical to it.
    for (const id of ['sdcpp-q8_0', 'sdcpp-f16']) {
      expect(byId[id].quality.psnr_db, id).toBeGreaterThan(30);
      expect(byId[id].quality.max_abs_diff, id).toBeGreaterThan(0);
    }
  });
});
