import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backendNames } from '../../src/backends/registry.ts';
import { TailBuffer, UserError } from '../../src/errors.ts';
import { launchPlan } from '../../src/launcher/launch.ts';
import { applyOverrides, loadLadder } from '../../src/rungs/ladder.ts';
import { ARTICLE_SCENARIO, checkModel, checkScenario } from '../../src/rungs/settings.ts';
import { tmpDir } from '../helpers.ts';

describe('scenario and model checks', () => {
  it('accepts the article scenario and refuses bad numbers with one line', () => {
    expect(checkScenario({ ...ARTICLE_SCENARIO })).toEqual(ARTICLE_SCENARIO);
    expect(() => checkScenario({ ...ARTICLE_SCENARIO, height: 63 })).toThrow(
      'height must be a positive multiple of 8 (got 63)',
    );
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
  it("never inherits measurement-changing variables and sets the rung's", () => {
    const plan = launchPlan('/py', { allocator: 'default', threads: 3, env: { EXTRA: '1' } }, 'ipc:///x', 'r', {
      PATH: '/bin',
      LD_PRELOAD: '/evil.so',
      MALLOC_CONF: 'x',
      OMP_NUM_THREADS: '64',
      KMP_AFFINITY: 'compact',
    });
    expect(plan.env.LD_PRELOAD).toBeUndefined();
    expect(plan.env.MALLOC_CONF).toBeUndefined();
    expect(plan.env.KMP_AFFINITY).toBeUndefined();
    expect(plan.env).toMatchObject({
      PATH: '/bin',
      OMP_NUM_THREADS: '3',
      MKL_NUM_THREADS: '3',
      EXTRA: '1',
      HF_HUB_OFFLINE: '1',
    });
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
    expect(loadLadder().rungs[0]).toMatchObject({
      id: 'baseline',
      backend: 'torch',
      env: 'torch',
      launcher: { allocator: 'default' },
    });
  });
  it('takes the environment from the backend unless the rung names one', () => {
    const l = loadLadder(
      write(
        'rungs:\n - {id: a, backend: sleep}\n - {id: b, extends: a, env: ipex}\n - {id: c, extends: b, backend: openvino}\n',
      ),
    );
    expect(l.rungs.map((r) => [r.backend, r.env])).toEqual([
      ['sleep', 'torch'],
      ['sleep', 'ipex'],
      ['openvino', 'openvino'],
    ]);
  });
  it('applies --set overrides and checks them like the file', () => {
    const [a] = loadLadder(write('rungs:\n - {id: a, backend: torch}\n')).rungs;
    const b = applyOverrides(a!, ['launcher.allocator=tcmalloc', 'options.dtype=bf16', 'launcher.threads=2']);
    expect(b).toMatchObject({ launcher: { allocator: 'tcmalloc', threads: 2 }, options: { dtype: 'bf16' } });
    expect(a!.options).toEqual({}); // the ladder's rung is left as it was
    expect(() => applyOverrides(a!, ['options.dtype=fp16'])).toThrow(/--set: rung a: options\.dtype: Invalid option/);
    expect(() => applyOverrides(a!, ['options.static_shape=true'])).toThrow(
      /--set: rung a: options\.static_shape: unknown field/,
    );
    expect(() => applyOverrides(a!, ['launcher.threads=many'])).toThrow(
      /launcher\.threads: Invalid input: expected number/,
    );
    expect(() => applyOverrides(a!, ['nonsense'])).toThrow(/expected field=value/);
    expect(() => applyOverrides(a!, ['id=x'])).toThrow(/settable fields are/);
  });
  it('merges a rung with the one it extends', () => {
    const l = loadLadder(
      write(
        'rungs:\n - {id: a, backend: torch, options: {dtype: bf16}}\n - {id: b, extends: a, launcher: {threads: 2}, options: {scheduler: dpm}}\n',
      ),
    );
    expect(l.rungs[1]).toMatchObject({
      id: 'b',
      backend: 'torch',
      extends: 'a',
      compare_to: 'a',
      launcher: { allocator: 'default', threads: 2 },
      options: { dtype: 'bf16', scheduler: 'dpm' },
    });
  });
  it('names file, rung and field in its errors', () => {
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: torch, launcher: {allocator: mimalloc}}\n'))).toThrow(
      /l\.yaml: rung a: launcher\.allocator: Invalid option: expected one of "default"\|"jemalloc"\|"tcmalloc"/,
    );
    expect(() => loadLadder(write('rungs:\n - {id: b, extends: zz}\n'))).toThrow(
      /rung b: extends: no earlier rung 'zz'/,
    );
    expect(() => loadLadder(write('rungs: []\n'))).toThrow(
      /l\.yaml: rungs: Too small: expected array to have >=1 items/,
    );
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: torch, options: {turbo: true}}\n'))).toThrow(
      /rung a: options\.turbo: unknown field \(backend torch\)/,
    );
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: torch, options: {static_shape: true}}\n'))).toThrow(
      /options\.static_shape: unknown field \(backend torch\)/,
    );
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: tensorflow}\n'))).toThrow(
      `rung a: backend: unknown backend 'tensorflow' (known: ${backendNames().join(', ')})`,
    );
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: torch, env: nowhere}\n'))).toThrow(
      /rung a: env: no environment 'nowhere' under envs\//,
    );
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: torch, optons: {dtype: bf16}}\n'))).toThrow(
      /rung a: optons: unknown field/,
    );
    expect(() => loadLadder(write('rungs:\n - {id: a, backend: torch, launcher: {threads: 1.5}}\n'))).toThrow(
      /rung a: launcher\.threads: /,
    );
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
