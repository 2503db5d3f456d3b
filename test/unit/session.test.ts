// The test session's folder root: finished sessions pruned but the two newest, running ones never.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers.ts';
import { pruneSessions } from '../session.ts';

describe('test sessions', () => {
  it('removes finished sessions but the two newest, and leaves running ones and other files alone', () => {
    const base = tmpDir('ladder-sessions-');
    const dead = spawnSync('true').pid!; // reaped: no process has this pid now
    const names = [`1000-${dead}`, `2000-${dead}`, `3000-${dead}`, `4000-${dead}`, `1500-${process.pid}`, 'notes'];
    for (const n of names) mkdirSync(path.join(base, n));
    writeFileSync(path.join(base, `1000-${dead}`, 'run.json'), '{}');
    expect(pruneSessions(base).sort()).toEqual([`1000-${dead}`, `2000-${dead}`]);
    expect(readdirSync(base).sort()).toEqual([`1500-${process.pid}`, `3000-${dead}`, `4000-${dead}`, 'notes'].sort());
    expect(existsSync(path.join(base, `1500-${process.pid}`))).toBe(true);
  });
});
