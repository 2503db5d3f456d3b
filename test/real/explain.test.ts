// `ladder explain` on real backends (every one but sleep, in the mock tier, and sdcpp, which refuses:
// python/tests/test_sdcpp.py), synthetic:tiny: one load per backend, one UNet call profiled by
// the runtime's own profiler. Its groups must add up to the measured call within 10%, its convolutions
// and matrix products carry FLOPs and a rate, and its kernels are classified. 256x256 (32x32 latents):
// at 64x64 the tiny UNet is so small that the framework between ops is most of a call. Eager PyTorch and
// ONNX Runtime at 512x512: diffusers' Python between eager ops was 12% of a 256x256 call, and ONNX
// Runtime's session between each of the UNet's 751 nodes reached 19% of one on a busy machine. OpenVINO
// and GenAI's IR at 512x512 too: the gaps between OpenVINO's nodes were 10.4% of a 256x256 call on an AMX
// Xeon beside the other tests (2.8-7% on an AMD EPYC).
import { describe, expect, it } from 'vitest';
import { machine } from '../../src/machine.ts';
import { OP_KINDS } from '../../src/results/explain.ts';
import { ladder, TINY } from '../helpers.ts';

const AMD = machine().cpu_vendor === 'AuthenticAMD';
const SIZE = ['--height', '256', '--width', '256'];
const LARGE = ['--height', '512', '--width', '512'];

async function explain(rung: string, ladderName: string, size = SIZE) {
  const r = await ladder(['explain', rung, '--ladder', ladderName, ...TINY, ...size, '--json']);
  expect(r.exitCode, r.all).toBe(0);
  return JSON.parse(r.stdout);
}

type Group = { kind: string; time_s: number; flops?: number; gflops?: number; isa_pct: Record<string, number> };

function expectExplained(doc: any, profiler: RegExp) {
  const s = doc.summary;
  expect(s.profiler).toMatch(profiler);
  expect(s.groups.map((g: Group) => g.kind)).toEqual([...OP_KINDS]);
  const by: Record<string, Group> = Object.fromEntries(s.groups.map((g: Group) => [g.kind, g]));
  for (const kind of ['convolution', 'matmul']) {
    expect(by[kind]!.time_s, kind).toBeGreaterThan(0);
    expect(by[kind]!.flops, kind).toBeGreaterThan(0);
    expect(by[kind]!.gflops, kind).toBeGreaterThan(0);
  }
  // The groups add up to the measured call within 10% (what is left over is said).
  expect(Math.abs(s.leftover_pct), `leftover ${s.leftover_pct}%`).toBeLessThanOrEqual(10);
  expect(s.adds_up).toBe(true);
  expect(s.groups_s + s.leftover_s).toBeCloseTo(s.call_s, 9);
  // Every kernel has an ISA class; the profile says what its profiler cannot see.
  expect(doc.profile.kernels.length).toBeGreaterThan(0);
  for (const k of doc.profile.kernels) expect(['amx', 'avx512', 'avx2', 'reference', 'other']).toContain(k.isa);
  expect(doc.profile.notes.length).toBeGreaterThan(0);
  return by;
}

/** The ISA classes the kernels of one kind ran in, by time. */
const isas = (g: Group) => Object.keys(g.isa_pct);

/** OpenVINO's per-node counters: every convolution and matrix product classified from its kernel name. */
function expectCounters(doc: any) {
  const by = expectExplained(doc, /^OpenVINO PERF_COUNT/);
  for (const kind of ['convolution', 'matmul'])
    expect(
      isas(by[kind]!).some((i) => i !== 'other'),
      JSON.stringify(by[kind]),
    ).toBe(true);
  return by;
}

describe('ladder explain on real backends (synthetic:tiny)', () => {
  it('torch: torch.profiler, the oneDNN kernels of its convolutions named with their ISA', async () => {
    const doc = await explain('baseline', 'article', LARGE);
    const by = expectExplained(doc, /^torch\.profiler/);
    expect(doc.profile.flops_by_kind.convolution).toBeGreaterThan(0);
    // oneDNN's verbose log names each convolution's implementation and ISA (jit:avx512_core, brg...).
    expect(
      isas(by.convolution!).some((i) => i !== 'other'),
      JSON.stringify(by.convolution),
    ).toBe(true);
    expect(doc.profile.kernels.some((k: { name: string }) => k.name.startsWith('oneDNN convolution'))).toBe(true);
  }, 600_000);

  it('openvino: per-node counters, every compute node classified from its kernel name', async () => {
    const by = expectCounters(await explain('openvino-static', 'beyond', LARGE));
    // The plugin fuses attention (MatMul, Softmax, MatMul) into one Subgraph node: attention, with FLOPs.
    expect(by.attention!.time_s).toBeGreaterThan(0);
    expect(by.attention!.flops).toBeGreaterThan(0);
  }, 900_000);

  it("openvino-genai: the worker's own compile of GenAI's UNet IR (proven identical at load), its counters", async () => {
    const doc = await explain('openvino-genai-bf16', 'peers', LARGE);
    expectCounters(doc);
    // The result says which model it profiled: GenAI exposes none of its own.
    expect(doc.profile.notes.join(' ')).toMatch(/worker's own compile of GenAI's UNet IR .* bit for bit/);
    // GenAI's static UNet: batch 2 (classifier-free guidance), 64x64 latents.
    expect(doc.profile.inputs.sample).toEqual([2, 4, 64, 64]);
  }, 900_000);

  it("onnxruntime: its profiler's node events, the provider of each", async () => {
    const doc = await explain('onnxruntime-fp32', 'peers', LARGE);
    expectExplained(doc, /^ONNX Runtime profiler/);
    expect(doc.profile.kernels.every((k: { name: string }) => k.name.startsWith('CPUExecutionProvider '))).toBe(true);
  }, 900_000);

  it('ipex: torch.profiler on the IPEX-optimized bf16 UNet', async () => {
    const doc = await explain('ipex-bf16', 'article', LARGE);
    expectExplained(doc, /^torch\.profiler/);
  }, 900_000);

  // zentorch runs on AMD CPUs only (elsewhere the rung is skipped with its reason, and so is this test).
  it.skipIf(!AMD)(
    'zentorch: torch.profiler on the UNet compiled by zentorch',
    async () => {
      const doc = await explain('zentorch-bf16', 'beyond');
      expectExplained(doc, /^torch\.profiler/);
    },
    900_000,
  );

  it('torch-compile: the kernels inductor generated, each profiled by name', async () => {
    const doc = await explain('torch-compile-bf16', 'beyond');
    expectExplained(doc, /^torch\.profiler/);
    // `ladder explain` compiles with inductor's kernel profiling: its generated C++ kernels appear by name.
    expect(doc.profile.kernels.some((k: { name: string }) => /^inductor (graph_\d+_)?cpp_/.test(k.name))).toBe(true);
  }, 900_000);
});
