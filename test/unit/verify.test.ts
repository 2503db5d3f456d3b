import { describe, expect, it } from 'vitest';
import { getBackend } from '../../src/backends/registry.ts';
import type { CommonEffective } from '../../src/backends/types.ts';
import { parseCores } from '../../src/launcher/config.ts';
import type { Machine } from '../../src/machine.ts';
import { verifyLoaded, verifyRuntime } from '../../src/run/verify.ts';
import type { Rung } from '../../src/rungs/ladder.ts';

// What an OpenVINO worker adds to the common part.
type Effective = CommonEffective & { openvino?: { submodels: Record<string, unknown> } };

const rung = (over: Partial<Rung>): Rung => ({
  id: 'r',
  description: '',
  backend: 'torch',
  env: 'torch',
  launcher: { allocator: 'default' },
  options: {},
  ...over,
});
const comp = (dtypes: Record<string, number>, convs = 4, cl = 0, ipex = 0) => ({
  params: 1,
  param_dtypes: dtypes,
  spatial_convs: convs,
  channels_last_convs: cl,
  ipex_modules: ipex,
});
const alloc = (name: string, conf = '', opts = {}) => ({
  name,
  mapped: name === 'default' ? [] : [`/lib/lib${name}.so`],
  ld_preload: '',
  malloc_conf: conf,
  opts,
});

describe('verifyLoaded', () => {
  it('passes a baseline that is what it says', () => {
    const eff: Effective = {
      scheduler: 'PNDMScheduler',
      allocator: alloc('default'),
      components: { unet: comp({ float32: 10 }) },
      torch_threads: 2,
    };
    expect(verifyLoaded(rung({}), eff)).toEqual([]);
  });
  it('catches an allocator that is not mapped and a MALLOC_CONF not applied', () => {
    const r = rung({
      launcher: { allocator: 'jemalloc', malloc_conf: 'background_thread:true, dirty_decay_ms:30000' },
    });
    expect(verifyLoaded(r, { allocator: alloc('default') })[0]).toMatch(
      /allocator: asked jemalloc, worker has default mapped/,
    );
    expect(
      verifyLoaded(r, {
        allocator: alloc('jemalloc', 'background_thread:true,dirty_decay_ms:30000', {
          background_thread: 'false',
          dirty_decay_ms: '30000',
        }),
      }),
    ).toEqual(['jemalloc opt.background_thread: asked true, jemalloc reports false']);
    expect(verifyLoaded(r, { allocator: alloc('jemalloc', '') })[0]).toMatch(
      /MALLOC_CONF: asked background_thread:true,dirty_decay_ms:30000, worker sees unset/,
    );
  });
  it('catches threads, binding and scheduler differences', () => {
    const r = rung({
      launcher: { allocator: 'default', threads: 1, bind: 'taskset', cores: '0' },
      options: { scheduler: 'dpm' },
    });
    const problems = verifyLoaded(r, { torch_threads: 2, cpu: { affinity: [0, 1] }, scheduler: 'PNDMScheduler' });
    expect(problems).toEqual([
      'threads: asked 1, torch uses 2',
      'binding: asked cores 0, worker runs on 0,1',
      'scheduler: asked DPMSolverMultistepScheduler, pipeline has PNDMScheduler',
    ]);
  });
  it('catches bf16, channels_last and IPEX not applied', () => {
    const r = rung({ backend: 'ipex', options: { ipex: true, dtype: 'bf16', channels_last: true } });
    const ok: Effective = { components: { unet: comp({ bfloat16: 9, float32: 1 }, 4, 4, 12) } };
    expect(verifyLoaded(r, ok)).toEqual([]);
    const bad: Effective = { components: { unet: comp({ float32: 10 }, 4, 1, 0) } };
    expect(verifyLoaded(r, bad)).toEqual([
      'dtype: asked bf16, unet has no bfloat16 weights ({"float32":10})',
      'channels_last: unet has 1 of 4 convolutions in channels_last',
      'ipex: unet has no IPEX-optimized modules',
    ]);
  });
  it('catches OpenVINO shapes that are not static, or not dynamic, and precision', () => {
    const sub = (stat: boolean, precision = 'bf16') => ({
      inputs: [{ name: 'sample', shape: stat ? '[2,4,8,8]' : '[?,4,?,?]', static: stat }],
      precision,
    });
    const st = rung({ backend: 'openvino', options: { static_shape: true, precision: 'f32' } });
    expect(verifyLoaded(st, <Effective>{ openvino: { submodels: { unet: sub(false) } } })).toEqual([
      'static shape: unet input sample is [?,4,?,?]',
      'precision: asked f32, unet runs bf16',
    ]);
    const dyn = rung({ backend: 'openvino', options: { static_shape: false } });
    expect(verifyLoaded(dyn, <Effective>{ openvino: { submodels: { unet: sub(true) } } })).toEqual([
      'dynamic shape: the unet is static',
    ]);
    expect(verifyLoaded(dyn, { openvino: { submodels: {} } } as Effective)).toEqual([
      'openvino: worker reported no compiled models',
    ]);
    const threads = rung({ backend: 'openvino', launcher: { allocator: 'default', threads: 1 } });
    expect(
      verifyLoaded(threads, { openvino: { submodels: { unet: { ...sub(false), threads: 2 } } } } as Effective),
    ).toEqual(['threads: asked 1, OpenVINO unet uses 2']);
  });
});

describe('verifyRuntime', () => {
  it('needs the UNet to have run in the asked dtype', () => {
    const bf16 = rung({ options: { dtype: 'bf16' } });
    expect(
      verifyRuntime(bf16, { runtime: { unet_calls: 4, autocast_dtype: 'bfloat16', unet_output_dtype: 'bfloat16' } }),
    ).toEqual([]);
    expect(
      verifyRuntime(bf16, { runtime: { unet_calls: 4, autocast_dtype: null, unet_output_dtype: 'float32' } }),
    ).toEqual(['runtime dtype: asked bfloat16, the UNet ran in float32']);
    expect(verifyRuntime(bf16, {})).toEqual(['runtime: the worker did not report the dtype the UNet ran in']);
    expect(
      verifyRuntime(rung({}), { runtime: { unet_calls: 4, autocast_dtype: null, unet_output_dtype: 'float32' } }),
    ).toEqual([]);
  });
});

it('parses core lists', () => {
  expect(parseCores('0-2,5')).toEqual([0, 1, 2, 5]);
});

it('says in one line why zentorch cannot run off AMD, and lets it run on AMD', () => {
  const zentorch = getBackend('zentorch');
  const intel = { cpu_vendor: 'GenuineIntel', cpu_model: 'Intel(R) Xeon(R) Platinum 8480+' } as Machine;
  expect(zentorch.unsupported?.(intel)).toMatch(
    /^zentorch is AMD's torch\.compile backend .*; this CPU is GenuineIntel \(Intel\(R\) Xeon/,
  );
  expect(zentorch.unsupported?.({ ...intel, cpu_vendor: 'AuthenticAMD' } as Machine)).toBeUndefined();
  expect(getBackend('torch').unsupported?.(intel)).toBeUndefined();
});
