// RunStore on resume: what an interrupted run measured stays in its folder at every save, not only
// once the resumed run finishes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunStore } from '../../src/run/store.ts';
import { fixtureRun } from '../fixtures/run.ts';
import { tmpDir } from '../helpers.ts';

const ids = (dir: string) =>
  JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')).rungs.map((r: { id: string }) => r.id);

describe('RunStore.resume', () => {
  it('writes the finished rungs the resumed run does not run again at every save, and drops the one cut off', () => {
    const dir = tmpDir();
    const previous = fixtureRun();
    // Cut off in its first round, as when --skip drops a rung that round had measured.
    previous.rounds = {
      seed: 1,
      asked: { rounds: 2 },
      done: [{ round: 0, order: previous.rungs.map((r) => r.id), started: previous.started }],
    } as unknown as typeof previous.rounds;
    const all = previous.rungs.map((r) => r.id);
    // The rung it was measuring when cut off: no figure, so nothing to keep once it is not run again.
    previous.rungs.push({
      id: 'cut-off',
      status: 'running',
      config: {},
      samples_s: [1.5],
    } as (typeof previous.rungs)[0]);
    const store = RunStore.resume(dir, previous);
    expect(store.keep('baseline')).toBe(true);
    store.save();
    // The kept rung first, the rest after it: none is lost if this run is cut off now.
    expect(ids(dir)).toEqual(['baseline', ...all.filter((id) => id !== 'baseline')]);
    store.keepRest();
    store.save();
    expect(ids(dir).sort()).toEqual([...all].sort());
    expect(store.run.rungs).toHaveLength(all.length);
  });
});
