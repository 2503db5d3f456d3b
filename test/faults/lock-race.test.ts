// Many starters race for one lock, fresh or left stale by a dead run: exactly one wins, every time.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { ownerRecord } from '../../src/lock.ts';
import { repoRoot } from '../../src/paths.ts';
import { tmpDir } from '../helpers.ts';
import { fault } from './ledger.ts';

const CONTENDERS = 8;
const ROUNDS = 120;

async function race(stale: boolean): Promise<number[]> {
  const dir = tmpDir('ladder-lock-');
  const script = path.join(repoRoot, 'test', 'fixtures', 'lock-contender.ts');
  const children = Array.from({ length: CONTENDERS }, () =>
    execa('node', ['--import', 'tsx', script, dir, String(ROUNDS)], { cwd: repoRoot, reject: false }),
  );
  await new Promise((r) => setTimeout(r, 1500)); // every contender started and waiting
  const winners: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // A dead run's lock: a pid that cannot exist.
    if (stale) writeFileSync(path.join(dir, `lock-${r}`), ownerRecord(2 ** 22 + 1));
    writeFileSync(path.join(dir, `go-${r}`), '');
    const file = path.join(dir, `result-${r}`);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (existsSync(file) && readFileSync(file, 'utf8').trim().split('\n').length === CONTENDERS) break;
      await new Promise((res) => setTimeout(res, 2));
    }
    winners.push(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.endsWith(' won')).length,
    );
  }
  writeFileSync(path.join(dir, `go-${ROUNDS}`), ''); // every round read: the contenders may exit
  for (const c of children) expect((await c).exitCode).toBe(0);
  return winners;
}

it.each([['fresh'], ['stale']] as const)(
  `exactly one of ${CONTENDERS} starters takes a %s lock, ${ROUNDS} times`,
  async (kind) => {
    const winners = await race(kind === 'stale');
    fault(
      `lock race (${kind}) x${ROUNDS}`,
      winners.every((w) => w === 1),
    );
    expect(winners.filter((w) => w !== 1)).toEqual([]);
    expect(winners).toHaveLength(ROUNDS);
  },
  120_000,
);
