// The run protocol, the run store and the quality guard on the sleep (mock) backend: real worker,
// real socket, scripted pass times, so every figure below is exact.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ladder, tmpDir } from '../helpers.ts';

const RUN = [
  '--model',
  'none',
  '--warmup-steps',
  '1',
  '--steps',
  '4',
  '--passes',
  '3',
  '--rounds',
  '1',
  '--no-roofline',
];

describe('a ladder on the sleep backend', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'mock.yaml');
  writeFileSync(
    file,
    [
      'name: mock',
      'rungs:',
      '  - {id: base, backend: sleep, options: {pass_s: 0.04}}',
      '  - {id: twice, extends: base, options: {pass_s: 0.02}}',
      '  - {id: lies, extends: base, options: {dtype: bf16, broken_toggle: true}}',
      '  - {id: dies, extends: base, options: {fault: kill, fault_at_pass: 2}}',
      '  - {id: drifts, extends: twice, compare_to: twice, options: {series: [0.01, 0.03], image_noise: 0.2}}',
      '  - {id: bf16, extends: base, options: {dtype: bf16}}',
      '  - {id: nan, extends: base, options: {image: nan}}',
    ].join('\n'),
  );
  const out = path.join(dir, 'run');
  const result = ladder(['reproduce', '--ladder', file, '--out', out, ...RUN]);
  const run = async () => {
    const r = await result;
    return { r, json: JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) };
  };
  const rung = (json: { rungs: { id: string }[] }, id: string) =>
    json.rungs.find((x) => x.id === id) as Record<string, any>;

  it('measures exactly the scripted passes and computes speedups from them', async () => {
    const { r, json } = await run();
    expect(r.exitCode, r.all).toBe(1); // three rungs failed
    expect(rung(json, 'base').samples_s).toEqual([0.04, 0.04, 0.04]);
    expect(rung(json, 'twice').speedup_vs_baseline).toBeCloseTo(2, 12);
    expect(rung(json, 'drifts').samples_s).toEqual([0.01, 0.03, 0.01]);
    expect(rung(json, 'drifts').speedup_vs_previous).toBeCloseTo(0.02 / 0.01, 12);
    expect(rung(json, 'base').breakdown.unet_calls_per_pass).toBe(4);
    expect(json.schema_version).toBe(3);
    expect(rung(json, 'base').config).toMatchObject({ backend: 'sleep', env: 'torch', model: 'none' });
  }, 300_000);

  it('fails a rung whose toggle did not take effect and keeps the problems in run.json', async () => {
    const { r, json } = await run();
    const lies = rung(json, 'lies');
    expect(lies.status).toBe('failed');
    expect(lies.toggle_problems).toEqual(['runtime dtype: asked bfloat16, the UNet ran in float32']);
    expect(lies.stats).toBeUndefined(); // no figure for a rung that is not what it says
    expect(r.stdout).toMatch(/FAILED: rung lies: toggle did not take effect: runtime dtype/);
    expect(rung(json, 'bf16').status).toBe('ok'); // the same toggle, taken: proven and measured
  }, 300_000);

  it('fails a rung whose image holds NaN, which PSNR could not see', async () => {
    const { json } = await run();
    expect(rung(json, 'nan')).toMatchObject({
      status: 'failed',
      error: 'rung nan: the image has 3 NaN or infinite values',
    });
    expect(rung(json, 'nan').stats).toBeUndefined();
  }, 300_000);

  it('names a worker that died mid-pass and runs the next rung', async () => {
    const { r, json } = await run();
    expect(rung(json, 'dies')).toMatchObject({ status: 'failed' });
    expect(rung(json, 'dies').error).toMatch(/worker for rung dies died: SIGKILL/);
    expect(r.stdout).toMatch(/rung drifts \(5\/7/);
    expect(rung(json, 'drifts').status).toBe('ok');
  }, 300_000);

  it('guards quality against the fp32 image of the same backend and scheduler', async () => {
    const { json } = await run();
    expect(rung(json, 'twice').quality).toMatchObject({ psnr_db: null, max_abs_diff: 0, flagged: false });
    const drift = rung(json, 'drifts').quality;
    expect(drift.flagged).toBe(true);
    expect(drift.psnr_db).toBeGreaterThan(0);
    expect(drift.psnr_db).toBeLessThan(20);
    // bf16 is not its own reference: the ladder's fp32 rung of that backend and scheduler is.
    expect(rung(json, 'bf16').quality.reference).toBe('images/base.npy');
    expect(json.references).toEqual([]);
  }, 300_000);

  it('writes report.md and the other reports atomically, with no temporary file left', async () => {
    await run();
    const report = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/\| twice \| ok \|/);
    expect(readdirSync(out).filter((f) => f.includes('.tmp'))).toEqual([]);
  }, 300_000);
});
