import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backendNames } from '../../src/backends/registry.ts';
import { unknownArguments } from '../../src/cli.ts';
import { applyConfig, givenOnCommandLine, resolveConfig } from '../../src/commands/config.ts';
import { overheadExitCode, overTargets } from '../../src/commands/overhead.ts';
import { loadConfig } from '../../src/config.ts';
import { TailBuffer, UserError } from '../../src/errors.ts';
import { EXIT, EXIT_CODES_HELP } from '../../src/exit-codes.ts';
import { launchPlan } from '../../src/launcher/launch.ts';
import { applyOverrides, loadLadder } from '../../src/rungs/ladder.ts';
import { ARTICLE_SCENARIO, checkModel, checkScenario } from '../../src/rungs/settings.ts';
import { closest, didYouMean, editDistance } from '../../src/suggest.ts';
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

describe('the config file as per-command defaults (issue 21)', () => {
  const file = (text: string) => {
    const dir = tmpDir();
    writeFileSync(path.join(dir, 'ladder.config.yaml'), text);
    return dir;
  };

  it("keeps every documented key, paths made the file's", () => {
    const cwd = file('model: synthetic:sd15\nprofile: smoke\nhistory: ./h\nmin_psnr: 25\nheartbeat_timeout: 60\n');
    const c = loadConfig({}, cwd, () => undefined);
    expect(c).toMatchObject({
      file: path.join(cwd, 'ladder.config.yaml'),
      values: { model: 'synthetic:sd15', profile: 'smoke', history: path.join(cwd, 'h'), min_psnr: 25 },
    });
  });

  it('names the file and the key, and suggests the key meant', () => {
    expect(() => loadConfig({}, file('min_pnsr: 25\n'), () => undefined)).toThrow(
      /ladder\.config\.yaml: min_pnsr: unknown key \(did you mean min_psnr\?\) \(known: model, profile, /,
    );
    expect(() => loadConfig({}, file('min_psnr: -3\n'), () => undefined)).toThrow(/ladder\.config\.yaml: min_psnr: /);
  });

  it('sets a key only for the commands that take it, and never over a flag given', () => {
    const cwd = file('model: synthetic:sd15\nhistory: /h\nprofile: smoke\n');
    const saved = process.env.LADDER_CONFIG;
    process.env.LADDER_CONFIG = path.join(cwd, 'ladder.config.yaml');
    try {
      const argv = (
        command: string,
        extra: Record<string, unknown> = {},
      ): Record<string, unknown> & { _: string[] } => ({
        _: [command],
        ...extra,
      });
      const rungs = argv('rungs');
      applyConfig(rungs, ['rungs'], {});
      expect(rungs).toEqual({ _: ['rungs'] });
      const run = argv('run', { model: 'auto' });
      applyConfig(run, ['run', 'baseline'], {});
      expect(run).toMatchObject({ model: 'synthetic:sd15', profile: 'smoke' });
      expect(run).not.toHaveProperty('history');
      const given = argv('run', { model: 'synthetic:tiny' });
      applyConfig(given, ['run', 'baseline', '--model=synthetic:tiny'], {});
      expect(given.model).toBe('synthetic:tiny');
      const reproduce = argv('reproduce');
      applyConfig(reproduce, ['reproduce'], {});
      expect(reproduce).not.toHaveProperty('history'); // reproduce's --history is a per-run choice
      expect(() => applyConfig(argv('nightly'), ['nightly'], { profile: ['article', 'quick'] })).toThrow(
        /ladder\.config\.yaml: profile: 'smoke' is not one of article, quick/,
      );
    } finally {
      if (saved === undefined) delete process.env.LADDER_CONFIG;
      else process.env.LADDER_CONFIG = saved;
    }
  });

  it('says where each default came from: flag, env, file, built-in', () => {
    const keys = resolveConfig(
      { file: '/c.yaml', values: { model: 'synthetic:sd15', cache_dir: '/from-file' }, cacheDirFromEnv: true },
      { 'min-psnr': 30 },
      { LADDER_CACHE_DIR: '/from-env' },
    );
    const of = (k: string) => keys.find((x) => x.key === k);
    expect(of('min_psnr')).toMatchObject({ value: 30, source: 'flag' });
    expect(of('cache_dir')).toMatchObject({ value: '/from-env', source: 'env', sets: 'LADDER_CACHE_DIR' });
    expect(of('model')).toMatchObject({ value: 'synthetic:sd15', source: 'file' });
    expect(of('profile')).toMatchObject({ value: 'quick', source: 'built-in', note: 'nightly: article' });
  });

  it('knows a flag given in any spelling', () => {
    expect(givenOnCommandLine(['run', '--min-psnr', '3'], 'min-psnr')).toBe(true);
    expect(givenOnCommandLine(['run', '--minPsnr=3'], 'min-psnr')).toBe(true);
    expect(givenOnCommandLine(['run', '--no-roofline'], 'roofline')).toBe(true);
    expect(givenOnCommandLine(['run', '--min-psnr-x'], 'min-psnr')).toBe(false);
    expect(givenOnCommandLine(['run', '--', '--model'], 'model')).toBe(false);
  });
});

describe('did you mean', () => {
  it('finds a typo of a word and nothing for an unrelated one', () => {
    expect(editDistance('pases', 'passes')).toBe(1);
    expect(editDistance('lsit', 'list')).toBe(1); // a swap of neighbours is one edit
    expect(closest('reproduse', ['reproduce', 'run', 'rungs'])).toBe('reproduce');
    expect(closest('xyz', ['reproduce', 'run'])).toBeUndefined();
    expect(didYouMean('pases', ['passes', 'steps'], '--')).toBe(' (did you mean --passes?)');
  });

  it("says yargs's unknown arguments for people", () => {
    const known = ['passes', 'steps', 'min-psnr'];
    expect(unknownArguments('Unknown argument: pases', ['reproduce', '--pases', '3'], known, [])).toBe(
      'unknown option --pases for reproduce (did you mean --passes?)',
    );
    // yargs names a dashed flag twice: min-pnsr, minPnsr
    expect(unknownArguments('Unknown arguments: min-pnsr, minPnsr', ['run', 'b', '--min-pnsr=2'], known, [])).toBe(
      'unknown option --min-pnsr for run (did you mean --min-psnr?)',
    );
    expect(unknownArguments('Unknown argument: reproduse', ['reproduse'], [], ['reproduce', 'run'])).toBe(
      "unknown command 'reproduse' (did you mean reproduce?)",
    );
    expect(unknownArguments('Not enough arguments', ['run'], [], [])).toBeUndefined();
  });
});

describe('one table of exit codes', () => {
  it('is the one the tool documents', () => {
    expect(EXIT).toEqual({ OK: 0, FAILED: 1, BAD_INPUT: 2, LOCKED: 3, REGRESSION: 10 });
    expect(new UserError('x').exitCode).toBe(EXIT.BAD_INPUT);
    expect(EXIT_CODES_HELP).toMatch(/10\s+a regression, or a figure over its target/);
  });

  it('overhead: a figure over its target exits 10, an unknown or unresolved one does not', () => {
    const figures = {
      worker_cost: { verdict: 'not resolved: the 95% interval spans +1%' },
      worker_service_cpu_pct_of_passes: Number.NaN,
      controller: { cpu_pct_of_passes: 0.1, bench_job_gap_ms: 1, load_job_gap_ms: 2 },
    };
    expect(overTargets(figures)).toEqual([]);
    expect(overheadExitCode(overTargets(figures))).toBe(0);
    const over = { ...figures, controller: { ...figures.controller, cpu_pct_of_passes: 0.7 } };
    expect(overTargets(over)).toEqual(['controller_cpu']);
    expect(overheadExitCode(overTargets(over))).toBe(10);
    expect(overTargets({ ...figures, worker_cost: { verdict: 'OVER TARGET: the 95% interval is above +1%' } })).toEqual(
      ['worker_cost'],
    );
  });
});
