// The ONNX Runtime backend's proofs on a report shaped like the worker's: each toggle that did not reach
// a session (provider, threads, graph optimization, the UNet file, integer ops) is named.
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../src/backends/registry.ts';
import type { LaunchConfig } from '../../src/launcher/config.ts';

const ort = getBackend('onnxruntime');
const launcher = { threads: 2 } as LaunchConfig;

function session(file: string, extra: Record<string, unknown> = {}) {
  return {
    providers: ['CPUExecutionProvider'],
    file: { path: `/cache/onnx/synthetic-tiny-abc/${file}`, bytes: 10, folder_bytes: 10, sha256_first_mb: 'ab' },
    intra_op_threads: 2,
    graph_optimization: 'ORT_ENABLE_ALL',
    ...extra,
  };
}

function effective(precision: 'fp32' | 'int8') {
  const int8 = precision === 'int8';
  return {
    scheduler: 'PNDMScheduler',
    runtime: { unet_calls: 3, autocast_dtype: null, unet_output_dtype: 'float32' },
    onnxruntime: {
      version: '1.31.1',
      precision,
      int8: null,
      onnx_dir: '/cache/onnx/synthetic-tiny-abc',
      sessions: {
        text_encoder: session('text_encoder/model.onnx'),
        unet: session(int8 ? 'unet-int8/model-int8.onnx' : 'unet/model.onnx', {
          op_types: int8 ? { ConvInteger: 4, MatMulInteger: 6, DynamicQuantizeLinear: 10, Add: 3 } : { Conv: 4 },
          integer_ops: int8 ? 20 : 0,
        }),
        vae_decoder: session('vae_decoder/model.onnx'),
      },
    },
  };
}

const prove = (ask: Record<string, unknown>, eff: unknown, l: LaunchConfig = launcher) =>
  ort.proveLoaded(ort.options.parse(ask), eff, l);

describe('onnxruntime proofs', () => {
  it('accepts sessions that did what was asked', () => {
    expect(prove({}, effective('fp32'))).toEqual([]);
    expect(prove({ precision: 'int8' }, effective('int8'))).toEqual([]);
    expect(prove({ intra_op_threads: 2, graph_optimization: 'all' }, effective('fp32'), {} as LaunchConfig)).toEqual(
      [],
    );
    expect(ort.proveRuntime(ort.options.parse({}), effective('fp32'))).toEqual([]);
  });

  it('catches an int8 ask on an fp32 UNet, and integer ops where fp32 was asked', () => {
    expect(prove({ precision: 'int8' }, effective('fp32'))).toEqual([
      'unet: asked unet-int8/model-int8.onnx, the session loaded /cache/onnx/synthetic-tiny-abc/unet/model.onnx',
      'precision: asked int8, the unet has no ConvInteger/MatMulInteger/DynamicQuantizeLinear nodes',
    ]);
    const eff = effective('int8');
    eff.onnxruntime.sessions.unet.file.path = '/cache/onnx/synthetic-tiny-abc/unet/model.onnx';
    expect(prove({}, eff)).toEqual(['precision: asked fp32, the unet has 20 integer nodes']);
    const uncounted = effective('fp32') as any;
    delete uncounted.onnxruntime.sessions.unet.integer_ops;
    expect(prove({}, uncounted)).toEqual(['precision: the worker did not count the UNet’s op types']);
  });

  it('catches a provider other than the CPU one, on any session', () => {
    const eff = effective('fp32');
    eff.onnxruntime.sessions.vae_decoder.providers = ['OpenVINOExecutionProvider', 'CPUExecutionProvider'];
    expect(prove({}, eff)).toEqual([
      'providers: asked CPUExecutionProvider only, vae_decoder uses OpenVINOExecutionProvider, CPUExecutionProvider',
    ]);
  });

  it('catches threads other than asked: the option, else the launcher’s', () => {
    expect(prove({ intra_op_threads: 1 }, effective('fp32'))).toEqual([
      'intra_op_threads: asked 1, text_encoder has 2',
      'intra_op_threads: asked 1, unet has 2',
      'intra_op_threads: asked 1, vae_decoder has 2',
    ]);
    expect(prove({}, effective('fp32'), { threads: 4 } as LaunchConfig)).toHaveLength(3);
  });

  it('catches a graph optimization level other than asked', () => {
    expect(prove({ graph_optimization: 'disabled' }, effective('fp32'))).toContain(
      'graph_optimization: asked ORT_DISABLE_ALL, unet has ORT_ENABLE_ALL',
    );
  });

  it('catches a missing session and a UNet that never ran', () => {
    const eff = effective('fp32') as any;
    delete eff.onnxruntime.sessions.text_encoder;
    expect(prove({}, eff)).toEqual(['onnxruntime: no text_encoder session']);
    expect(prove({}, {})).toEqual(['onnxruntime: worker reported no sessions']);
    const idle = { ...effective('fp32'), runtime: { unet_calls: 0, autocast_dtype: null, unet_output_dtype: null } };
    expect(ort.proveRuntime(ort.options.parse({}), idle)).toEqual(['runtime: the UNet session never ran']);
  });

  it('reads the dtype from the UNet’s integer ops, and says so', () => {
    expect(ort.dtype(effective('int8'))).toBe('int8');
    expect(ort.dtype(effective('fp32'))).toBe('fp32');
    expect(ort.describe(effective('int8'))).toBe(
      'int8 dynamic UNet (ONNX Runtime 1.31.1, 2 threads, ORT_ENABLE_ALL, 20 integer nodes)',
    );
    expect(ort.describe(effective('fp32'))).toBe('fp32 (ONNX Runtime 1.31.1, 2 threads, ORT_ENABLE_ALL)');
    const unset = effective('fp32');
    unset.onnxruntime.sessions.unet.intra_op_threads = 0;
    expect(ort.describe(unset)).toBe('fp32 (ONNX Runtime 1.31.1, default threads, ORT_ENABLE_ALL)');
    expect(ort.reference(ort.options.parse({ scheduler: 'dpm' }))).toEqual({
      backend: 'torch',
      options: { scheduler: 'dpm' },
    });
  });

  it('refuses options it does not know', () => {
    expect(() => ort.options.parse({ precision: 'int4' })).toThrow();
    expect(() => ort.options.parse({ intra_op_threads: 0 })).toThrow();
    expect(() => ort.options.parse({ providers: ['CUDA'] })).toThrow();
  });
});
