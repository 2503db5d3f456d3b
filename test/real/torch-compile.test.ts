// A torch.compile that silently did nothing fails the rung (synthetic:tiny, a real worker of the torch
// environment). What a compiled rung proves (the UNet compiled in load() at the run's shapes, proven
// from dynamo's own counters) is tested on the beyond ladder's two compiled rungs, in beyond.test.ts:
// one compile of each, not two.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ladder, TINY, tmpDir } from '../helpers.ts';

const readRun = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8'));

async function reproduce(name: string, rungs: string[]) {
  const dir = tmpDir();
  const file = path.join(dir, 'ladder.yaml');
  writeFileSync(file, [`name: ${name}`, 'rungs:', ...rungs.map((r) => `  - ${r}`)].join('\n'));
  const out = path.join(dir, 'out');
  const result = await ladder(['reproduce', '--ladder', file, ...TINY, '--passes', '2', '--no-roofline', '--out', out]);
  return { result, out };
}

describe('a torch.compile that silently does nothing', () => {
  it('fails the rung with the compile problem, and gives it no figure', async () => {
    // TORCHDYNAMO_DISABLE=1 turns torch.compile into a no-op returning the module as is.
    const { result, out } = await reproduce('dynamo-off', [
      '{id: no-compile, backend: torch-compile, launcher: {env: {TORCHDYNAMO_DISABLE: "1"}}}',
    ]);
    expect(result.exitCode, result.all).toBe(1);
    expect(result.stdout).toMatch(
      /FAILED: rung no-compile: toggle did not take effect: torch\.compile: unet not compiled/,
    );
    const r = readRun(out).rungs[0];
    expect(r).toMatchObject({ status: 'failed', effective: { compile: { graphs: 0, compiled: [] } } });
    expect(r.toggle_problems).toEqual([
      expect.stringMatching(/^torch\.compile: unet not compiled/),
      'torch.compile: no graph was compiled',
    ]);
    expect(r.stats).toBeUndefined();
  }, 600_000);
});
