import { beforeAll, describe, expect, it } from 'vitest';
import { getBackend } from '../../src/backends/registry.ts';
import type { LaunchConfig } from '../../src/launcher/config.ts';
import { type ladder, reproduceYaml, TINY, tmpDir } from '../helpers.ts';

const LADDER = `
name: onnxruntime-peer
rungs:
  - id: onnxruntime-fp32
    backend: onnxruntime
    launcher: { threads: 2 }
  - id: onnxruntime-int8
    extends: onnxruntime-fp32
    options: { precision: int8 }
  - id: onnxruntime-knobs
    extends: onnxruntime-fp32
    options: { intra_op_threads: 1, graph_optimization: basic }
`;

const SESSIONS = ['text_encoder', 'unet', 'vae_decoder'];
const ort = getBackend('onnxruntime');

describe('ONNX Runtime peer (synthetic:tiny)', () => {
  const out = tmpDir();
  let result: Awaited<ReturnType<typeof ladder>>;
  let byId: Record<string, any>;

  beforeAll(async () => {
    ({ result, byId } = await reproduceYaml(out, LADDER, [...TINY, '--passes', '2', '--no-roofline']));
  }, 900_000);

  const eff = (id: string) => byId[id].effective;
  const sessions = (id: string) => eff(id).onnxruntime.sessions;
  const proveLoaded = (id: string, options: Record<string, unknown>, launcher?: LaunchConfig) =>
    ort.proveLoaded(
      ort.options.parse({ ...byId[id].config.options, ...options }),
      eff(id),
      launcher ?? (byId[id].config.launcher as LaunchConfig),
    );

  it('runs every rung with its toggles proven', () => {
    expect(result.exitCode, result.all).toBe(0);
    expect(Object.keys(byId)).toEqual(['onnxruntime-fp32', 'onnxruntime-int8', 'onnxruntime-knobs']);
    for (const r of Object.values(byId))
      expect(r.status, `${r.id}: ${r.error ?? JSON.stringify(r.toggle_problems)}`).toBe('ok');
  });

  it('runs every network in a CPU-provider session, from the one export', () => {
    const dir = eff('onnxruntime-fp32').onnxruntime.onnx_dir;
    for (const id of Object.keys(byId)) {
      expect(eff(id).onnxruntime.version, id).toMatch(/^1\.\d+\.\d+/);
      expect(eff(id).onnxruntime.onnx_dir, id).toBe(dir);
      for (const name of SESSIONS) {
        const s = sessions(id)[name];
        expect(s.providers, `${id} ${name}`).toEqual(['CPUExecutionProvider']);
        expect(s.file.path.startsWith(`${dir}/`), `${id} ${name}`).toBe(true);
        expect(s.file.bytes, `${id} ${name}`).toBeGreaterThan(0);
        expect(s.file.sha256_first_mb, `${id} ${name}`).toMatch(/^[0-9a-f]{64}$/);
      }
    }
    // The int8 UNet is another file; the other networks are the same fp32 files.
    const [fp32, int8] = [sessions('onnxruntime-fp32'), sessions('onnxruntime-int8')];
    expect(int8.unet.file.path).toMatch(/\/unet-int8\/model-int8\.onnx$/);
    expect(int8.unet.file.sha256_first_mb).not.toBe(fp32.unet.file.sha256_first_mb);
    expect(int8.text_encoder.file).toEqual(fp32.text_encoder.file);
  });

  it('an fp32 UNet has no integer ops; the int8 one has ConvInteger, MatMulInteger and DynamicQuantizeLinear', () => {
    const fp32 = sessions('onnxruntime-fp32').unet;
    expect(fp32.integer_ops).toBe(0);
    expect(fp32.op_types.Conv).toBeGreaterThan(0);
    const int8 = sessions('onnxruntime-int8').unet;
    for (const op of ['ConvInteger', 'MatMulInteger', 'DynamicQuantizeLinear']) {
      expect(int8.op_types[op], op).toBeGreaterThan(0);
    }
    expect(ort.dtype(eff('onnxruntime-int8'))).toBe('int8');
    expect(ort.dtype(eff('onnxruntime-fp32'))).toBe('fp32');
    expect(ort.describe(eff('onnxruntime-int8'))).toMatch(/^int8 dynamic UNet \(ONNX Runtime 1\.\d+\.\d+, /);
    expect(eff('onnxruntime-int8').onnxruntime.int8).toMatchObject({ method: 'quantize_dynamic' });
  });

  it('reads threads and graph optimization back from every session', () => {
    for (const name of SESSIONS) {
      // Unset, the launcher's thread count (2 in this ladder) reaches every session.
      expect(sessions('onnxruntime-fp32')[name], name).toMatchObject({
        graph_optimization: 'ORT_ENABLE_ALL',
        intra_op_threads: 2,
      });
      expect(sessions('onnxruntime-knobs')[name], name).toMatchObject({
        intra_op_threads: 1,
        graph_optimization: 'ORT_ENABLE_BASIC',
      });
    }
  });

  it('judges its images against the fp32 PyTorch image: fp32 matches it closely', () => {
    for (const id of Object.keys(byId)) {
      expect(byId[id].quality, id).toBeDefined();
      expect(byId[id].quality.reference, id).toMatch(/^images\/reference/);
    }
    // Same latents, scheduler and weights: only the runtime of the networks differs.
    const q = byId['onnxruntime-fp32'].quality;
    expect(q.psnr_db === null || q.psnr_db > 40, JSON.stringify(q)).toBe(true);
  });

  it('catches an int8 UNet that is not there, and one where fp32 was asked', () => {
    expect(proveLoaded('onnxruntime-fp32', {})).toEqual([]);
    const problems = proveLoaded('onnxruntime-fp32', { precision: 'int8' });
    expect(problems).toContain(
      'precision: asked int8, the unet has no ConvInteger/MatMulInteger/DynamicQuantizeLinear nodes',
    );
    expect(problems.some((p) => p.startsWith('unet: asked unet-int8/model-int8.onnx, the session loaded '))).toBe(true);
    const ints = sessions('onnxruntime-int8').unet.integer_ops;
    expect(proveLoaded('onnxruntime-int8', { precision: 'fp32' })).toContain(
      `precision: asked fp32, the unet has ${ints} integer nodes`,
    );
  });

  it('catches threads that did not reach the sessions', () => {
    expect(proveLoaded('onnxruntime-knobs', { intra_op_threads: 2 })).toEqual(
      SESSIONS.map((n) => `intra_op_threads: asked 2, ${n} has 1`),
    );
    // Unset, the launcher's thread count is the ask.
    expect(proveLoaded('onnxruntime-fp32', {}, { threads: 3 } as LaunchConfig)).toEqual(
      SESSIONS.map((n) => `intra_op_threads: asked 3, ${n} has 2`),
    );
    expect(proveLoaded('onnxruntime-knobs', { intra_op_threads: undefined }, { threads: 3 } as LaunchConfig)).toEqual(
      SESSIONS.map((n) => `intra_op_threads: asked 3, ${n} has 1`),
    );
  });

  it('catches a graph optimization level that did not reach the sessions', () => {
    expect(proveLoaded('onnxruntime-knobs', { graph_optimization: 'all' })).toEqual(
      SESSIONS.map((n) => `graph_optimization: asked ORT_ENABLE_ALL, ${n} has ORT_ENABLE_BASIC`),
    );
  });

  it('catches a session on another provider', () => {
    const report = structuredClone(eff('onnxruntime-fp32'));
    report.onnxruntime.sessions.unet.providers = ['DnnlExecutionProvider', 'CPUExecutionProvider'];
    const o = ort.options.parse(byId['onnxruntime-fp32'].config.options);
    expect(ort.proveLoaded(o, report, byId['onnxruntime-fp32'].config.launcher)).toEqual([
      'providers: asked CPUExecutionProvider only, unet uses DnnlExecutionProvider, CPUExecutionProvider',
    ]);
  });

  it('saw the UNet session run', () => {
    for (const id of Object.keys(byId)) {
      expect(eff(id).runtime.unet_calls, id).toBeGreaterThan(0);
      expect(ort.proveRuntime(ort.options.parse(byId[id].config.options), eff(id)), id).toEqual([]);
    }
  });
});
