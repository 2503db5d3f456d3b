// `--envs latest`: a stack's top-level requirements.in resolved afresh (real pip, real venvs) into an
// environment of the day, and a night that regresses beside a version change says so in one line.
// The stack is a small one of this test's own (numpy, pyzmq, msgpack: what the sleep worker needs),
// pinned to an older msgpack, so "latest" differs from "pinned" whatever PyPI holds today.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ladder, tmpDir } from '../helpers.ts';

const NIGHT = ['--model', 'none', '--warmup-steps', '1', '--steps', '2', '--passes', '6', '--no-roofline'];
const NIGHT_FLAGS = [...NIGHT, '--no-machine-probe', '--min-nights', '1'];

describe('nightly --envs latest', () => {
  it('builds a dated latest environment, records its channel and names the version change beside a regression', async () => {
    const dir = tmpDir();
    const envs = path.join(dir, 'envs');
    mkdirSync(path.join(envs, 'mini'), { recursive: true });
    writeFileSync(path.join(envs, 'mini', 'requirements.txt'), 'numpy==2.4.6\npyzmq==27.3.0\nmsgpack==1.1.0\n');
    writeFileSync(
      path.join(envs, 'mini', 'requirements.in'),
      '# top level: msgpack follows upstream\nnumpy==2.4.6\npyzmq==27.3.0\nmsgpack>1.1.0\n',
    );
    const env = { LADDER_ENVS_DIR: envs, LADDER_CACHE_DIR: path.join(dir, 'cache') };
    const history = path.join(dir, 'history');
    const ladderFile = (passS: number) => {
      const f = path.join(dir, `ladder-${passS}.yaml`);
      writeFileSync(
        f,
        `name: latest-test\nrungs:\n  - {id: base, backend: sleep, env: mini, options: {pass_s: ${passS}}}\n`,
      );
      return f;
    };

    const pinned = await ladder(['nightly', '--ladder', ladderFile(0.02), '--history', history, ...NIGHT_FLAGS], env);
    expect(pinned.exitCode, pinned.all).toBe(0);
    // The same scripted slow-down twice as long, in the latest environment: a regression with its suspect.
    const latest = await ladder(
      ['nightly', '--ladder', ladderFile(0.04), '--history', history, '--envs', 'latest', ...NIGHT_FLAGS],
      env,
    );
    expect(latest.exitCode, latest.all).toBe(10);
    expect(latest.stderr).toMatch(/provisioning environment 'mini' \(latest: top-level requirements resolved afresh\)/);
    expect(latest.stdout).toMatch(/^base regressed 2\.\d\dx; msgpack 1\.1\.0 -> 1\.\d+\.\d+$/m);

    const today = new Date().toISOString().slice(0, 10);
    const built = readdirSync(path.join(dir, 'cache', 'envs')).filter((d) => !d.endsWith('.lock'));
    expect(built.sort()).toEqual(
      [
        expect.stringMatching(/^mini-[0-9a-f]{12}$/),
        expect.stringMatching(new RegExp(`^mini-latest-${today}-[0-9a-f]{12}$`)),
      ].sort(),
    );

    const machineDir = path.join(history, readdirSync(history)[0]!);
    const runs = readdirSync(machineDir)
      .filter((d) => existsSync(path.join(machineDir, d, 'run.json')))
      .sort()
      .map((d) => JSON.parse(readFileSync(path.join(machineDir, d, 'run.json'), 'utf8')));
    expect(runs.map((r) => r.environments.mini.channel)).toEqual(['pinned', 'latest']);
    expect(runs[0].environments.mini.packages.msgpack).toBe('1.1.0');
    const v = runs[1].nightly.verdicts.find((x: { id: string }) => x.id === 'base');
    expect(v.verdict).toBe('regressed');
    expect(v.versions).toEqual([`msgpack 1.1.0 -> ${runs[1].environments.mini.packages.msgpack}`]);

    // A second latest night the same day reuses the day's environment.
    const again = await ladder(
      ['nightly', '--ladder', ladderFile(0.04), '--history', history, '--envs', 'latest', ...NIGHT_FLAGS],
      env,
    );
    expect([0, 10], again.all).toContain(again.exitCode); // judged against a mixed history: either verdict
    expect(again.stderr).not.toMatch(/provisioning environment/);
  }, 600_000);
});
