import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/files.ts';
import { parseRunFile, readHistory, readRunFile, SCHEMA_VERSION } from '../../src/results/run-file.ts';
import { fixtureRun } from '../fixtures/run.ts';
import { tmpDir } from '../helpers.ts';

const minimal = (over: Record<string, unknown> = {}) => ({
  schema_version: SCHEMA_VERSION,
  tool: { name: 'ladder', version: '0' },
  command: 'ladder run',
  started: '2026-11-28T00:00:00Z',
  machine: {},
  rungs: [{ id: 'a', status: 'ok', config: { backend: 'torch' }, samples_s: [1, 2] }],
  ...over,
});

describe('parseRunFile', () => {
  it('takes a finished run as it is', () => {
    const run = fixtureRun();
    expect(parseRunFile(JSON.parse(JSON.stringify(run)))).toEqual(JSON.parse(JSON.stringify(run)));
  });
  it('refuses what is not a run file, with the field named', () => {
    expect(() => parseRunFile(null)).toThrow(/not a ladder run file/);
    expect(() => parseRunFile([])).toThrow(/not a ladder run file/);
    expect(() => parseRunFile(minimal({ rungs: [{ status: 'ok' }] }))).toThrow(/rungs\.0\.id/);
    expect(() => parseRunFile(minimal({ rungs: [{ id: 'a', status: 'done' }] }))).toThrow(/rungs\.0\.status/);
    expect(() => parseRunFile(minimal({ rungs: [{ id: 'a', status: 'ok', samples_s: ['1'] }] }))).toThrow(
      /rungs\.0\.samples_s\.0/,
    );
    expect(() => parseRunFile(minimal({ started: 'yesterday' }))).toThrow(/started: is not a date/);
    expect(() => parseRunFile(minimal({ nightly: {} }))).toThrow(/nightly\.machine_id/);
    expect(() => parseRunFile(minimal({ nightly: { machine_id: 'm', verdicts: [{ verdict: 'regressed' }] } }))).toThrow(
      /nightly\.verdicts\.0\.id/,
    );
    expect(() => parseRunFile(minimal({ schema_version: 0 }))).toThrow(/schema_version/);
    expect(() => parseRunFile(minimal({ schema_version: SCHEMA_VERSION + 1 }))).toThrow(/newer than this ladder reads/);
  });
  it('upgrades a schema 1 file: the environment was always the backend', () => {
    const run = parseRunFile(minimal({ schema_version: 1 }));
    expect(run.schema_version).toBe(SCHEMA_VERSION);
    expect(run.rungs[0]!.config.env).toBe('torch');
  });
});

describe('readRunFile and readHistory', () => {
  it('gives one line for a bad directory or file', () => {
    const dir = tmpDir();
    expect(() => readRunFile(path.join(dir, 'nope'))).toThrow(
      `no such run directory or file: ${path.join(dir, 'nope')}`,
    );
    expect(() => readRunFile(dir)).toThrow(/is not a run directory \(no run.json in it\)/);
    writeFileSync(path.join(dir, 'run.json'), '{');
    expect(() => readRunFile(dir)).toThrow(/run\.json: not valid JSON/);
  });
  it('skips each malformed night with its reason and keeps the others, oldest first', () => {
    const dir = tmpDir();
    const night = (name: string, doc: unknown) => {
      mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, name, 'run.json'), typeof doc === 'string' ? doc : JSON.stringify(doc));
    };
    night('b', minimal({ started: '2026-11-02T00:00:00Z' }));
    night('a', minimal({ started: '2026-11-01T00:00:00Z' }));
    night('c', 'null');
    night('d', minimal({ nightly: {} }));
    night('e', minimal({ rungs: [{ id: 5, status: 'ok' }] }));
    mkdirSync(path.join(dir, 'empty'));
    const { runs, skipped } = readHistory(dir);
    expect(runs.map((r) => path.basename(r.dir))).toEqual(['a', 'b']);
    expect(skipped.map((s) => path.basename(path.dirname(s.file)))).toEqual(['c', 'd', 'e']);
    expect(skipped[1]!.reason).toMatch(/nightly\.machine_id/);
  });
});

it('writes atomically and leaves no temporary file', () => {
  const dir = tmpDir();
  writeFileAtomic(path.join(dir, 'x', 'f.md'), 'hello');
  expect(readdirSync(path.join(dir, 'x'))).toEqual(['f.md']);
});
