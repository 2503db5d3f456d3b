import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TailBuffer, UserError } from '../../src/errors.ts';
import { launchPlan } from '../../src/launcher/launch.ts';
import { loadLadder } from '../../src/rungs/ladder.ts';
import { ARTICLE_SCENARIO, checkModel, checkScenario } from '../../src/rungs/settings.ts';
import { tmpDir } from '../helpers.ts';

describe('scenario and model checks', () => {
  it('accepts the article scenario and refuses bad numbers with one line', () => {
    expect(checkScenario({ ...ARTICLE_SCENARIO })).toEqual(ARTICLE_SCENARIO);
    expect(() => checkScenario({ ...ARTICLE_SCENARIO, height: 63 })).toThrow('height must be a positive multiple of 8 (got 63)');
    expect(() => checkScenario({ ...ARTICLE_SCENARIO, steps: 0 })).toThrow(UserError);
    expect(() => checkScenario({ ...ARTICLE_SCENARIO, passes: 1.5 })).toThrow(/passes/);
  });
  it('knows the model forms', () => {
    expect(checkModel('synthetic:tiny')).toBe('synthetic:tiny');
    expect(checkModel('runwayml/stable-diffusion-v1-5')).toBe('runwayml/stable-diffusion-v1-5');
    expect(() => checkModel('synthetic:sdxl')).toThrow(/unknown model 'synthetic:sdxl'/);
    expect(() => checkModel('not a model')).toThrow(/unknown model/);
    const dir = tmpDir();
    expect(() => checkModel(dir)).toThrow(/no model_index.json/);
    writeFileSync(path.join(dir, 'model_index.json'), '{}');
    expect(checkModel(dir)).toBe(dir);
  });
});

describe('launch plan', () => {
  it('never inherits measurement-changing variables and sets the rung\'s', () => {
    const plan = launchPlan('/py', { allocator: 'default', threads: 3, env: { EXTRA: '1' } }, 'ipc:///x', 'r', {
      PATH: '/bin', LD_PRELOAD: '/evil.so', MALLOC_CONF: 'x', OMP_NUM_THREADS: '64', KMP_AFFINITY: 'compact',
    });
    expect(plan.env.LD_PRELOAD).toBeUndefined();
    expect(plan.env.MALLOC_CONF).toBeUndefined();
    expect(plan.env.KMP_AFFINITY).toBeUndefined();
    expect(plan.env).toMatchObject({ PATH: '/bin', OMP_NUM_THREADS: '3', MKL_NUM_THREADS: '3', EXTRA: '1', HF_HUB_OFFLINE: '1' });
    expect(plan.args).toEqual(['-m', 'ladder_worker', '--endpoint', 'ipc:///x', '--rung', 'r']);
  });
});

describe('ladder files', () => {
  const write = (doc: string) => {
    const dir = tmpDir();
    mkdirSync(dir, { recursive: true });
    const f = path.join(dir, 'l.yaml');
    writeFileSync(f, doc);
    return f;
  };
  it('loads the article ladder', () => {
    expect(loadLadder().rungs[0]).toMatchObject({ id: 'baseline', backend: 'torch', launcher: { allocator: 'default' } });
  });
  it('merges a rung with the one it extends', () => {
    const l = loadLadder(write('rungs:\n - {id: a, backend: torch, options: {dtype: bf16}}\n - {id: b, extends: a, launcher: {threads: 2}, options: {scheduler: dpm}}\n'));
    expect(l.rungs[1]).toMatchObject({ id: 'b', backend: 'torch', extends: 'a', compare_to: 'a', launcher: { allocator: 'default', threads: 2 }, options: { dtype: 'bf16', scheduler: 'dpm' } });
  });
  it('names file, rung and field in its errors', () => {
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: torch, launcher: {allocator: mimalloc}}\n'))).toThrow(/l\.yaml: rung a: launcher\.allocator: must be one of/);
    expect(() => loadLadder(write('rungs:\n - {id: b, extends: zz}\n'))).toThrow(/rung b: extends: no earlier rung 'zz'/);
    expect(() => loadLadder(write('rungs: []\n'))).toThrow(/'rungs' must be a non-empty list/);
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: torch, options: {turbo: true}}\n'))).toThrow(/rung a: options\.turbo: unknown option/);
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: torch, options: {static_shape: true}}\n'))).toThrow(/options\.static_shape: not supported by backend torch/);
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: tensorflow}\n'))).toThrow(/rung a: backend: no environment 'tensorflow'/);
    expect(() => loadLadder(write('rungs: [\n'))).toThrow(UserError);
  });
});

describe('TailBuffer', () => {
  it('keeps the last lines across chunk boundaries', () => {
    const t = new TailBuffer(2);
    t.push('a\nb\nc');
    t.push('d\ne\n');
    expect(t.tail()).toEqual(['cd', 'e']);
  });
});
