// ladder fleet's pure parts: the fleet file, the job script, Slurm's answers parsed, sbatch's
// arguments, and gathering runs by submission (missing classes, one CPU under two machine ids).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFleet } from '../../src/fleet/config.ts';
import { gather } from '../../src/fleet/gather.ts';
import type { Manifest } from '../../src/fleet/manifest.ts';
import { fleetCells, latestPerMachine, renderFleetCsv, renderFleetMd } from '../../src/fleet/report.ts';
import { jobScript } from '../../src/fleet/script.ts';
import { jobState, parseScontrol, sbatchArgs } from '../../src/fleet/slurm.ts';
import { machine, machineId } from '../../src/machine.ts';
import { schedulerInfo } from '../../src/provenance.ts';
import { shq } from '../../src/shell.ts';
import { tmpDir } from '../helpers.ts';

function fleetFile(yaml: string): string {
  const file = path.join(tmpDir(), 'fleet.yaml');
  writeFileSync(file, yaml);
  return file;
}

const GOOD = `name: lab
root: /shared/ladder
classes:
  - { name: spr, feature: spr, partition: bench, account: perf, time: "2:00:00" }
  - { name: zen4, feature: zen4 }
`;

describe('fleet.yaml', () => {
  it('fills in the defaults: Slurm, nightly, the article ladder at the quick profile on synthetic:sd15', () => {
    const f = loadFleet(fleetFile(GOOD));
    expect(f).toMatchObject({
      engine: 'slurm',
      command: 'nightly',
      ladder: 'article',
      profile: 'quick',
      model: 'synthetic:sd15',
      machine_id: 'machine',
    });
    expect(f.classes.map((c) => c.name)).toEqual(['spr', 'zen4']);
  });

  it('refuses a bad file in one line naming the field', () => {
    expect(() => loadFleet(fleetFile(GOOD.replace('/shared/ladder', 'shared')))).toThrow(
      /root: must be an absolute path/,
    );
    expect(() => loadFleet(fleetFile(GOOD.replace('feature: zen4', 'feature: "zen4 --wrap=rm"')))).toThrow(
      /classes\.1\.feature: must be a Slurm word/,
    );
    expect(() => loadFleet(fleetFile(GOOD.replace('name: zen4', 'name: spr')))).toThrow(
      /classes: two classes have one name/,
    );
    expect(() => loadFleet(fleetFile(`${GOOD}nope: 1\n`))).toThrow(/Unrecognized key/);
    expect(() => loadFleet(path.join(tmpDir(), 'missing.yaml'))).toThrow(/no such fleet file/);
  });
});

describe('the job script and sbatch', () => {
  const f = loadFleet(fleetFile(GOOD));
  it('runs ladder nightly into <root>/history, marked with the submission and class', () => {
    const s = jobScript(f, f.classes[0]!, '2026-11-28T01-00-00-000Z');
    expect(s).toMatch(/^#!\/bin\/bash\n/);
    expect(s).toContain('export LADDER_FLEET=2026-11-28T01-00-00-000Z LADDER_FLEET_CLASS=spr');
    expect(s).toMatch(
      /bin\/ladder\.js nightly --history \/shared\/ladder\/history --ladder article --profile quick --model synthetic:sd15 --envs pinned\n/,
    );
    expect(s).not.toContain('LADDER_MACHINE_ID');
    expect(jobScript({ ...f, machine_id: 'node' }, f.classes[0]!, 'x')).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell expansion the job script carries
      'export LADDER_MACHINE_ID="${SLURMD_NODENAME:-$(hostname)}"',
    );
  });

  it('quotes every word for bash', () => {
    expect(shq('plain-word_1.2')).toBe('plain-word_1.2');
    expect(shq("it's $HOME")).toBe(`'it'\\''s $HOME'`);
  });

  it('asks Slurm for an exclusive node of the class, one job name per class (singleton)', () => {
    expect(sbatchArgs(f, f.classes[0]!, '/o/spr-%j.out')).toEqual([
      '--parsable',
      '--exclusive',
      '--job-name=ladder-lab-spr',
      '--dependency=singleton',
      '--output=/o/spr-%j.out',
      '--constraint=spr',
      '--partition=bench',
      '--account=perf',
      '--time=2:00:00',
    ]);
  });

  it("reads Slurm's job states", () => {
    expect(
      ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'NODE_FAIL', 'CANCELLED by 0', 'TIMEOUT', 'WEIRD'].map(jobState),
    ).toEqual(['pending', 'running', 'completed', 'failed', 'failed', 'cancelled', 'timeout', 'unknown']);
    const s = parseScontrol(
      'JobId=12 JobName=ladder-lab-spr UserId=root(0) JobState=COMPLETED Reason=None NodeList=n1 BatchHost=n1\nJobId=13 JobState=PENDING NodeList=(null)\n',
    );
    expect(s.get('12')).toEqual({ state: 'completed', raw: 'COMPLETED', node: 'n1' });
    expect(s.get('13')).toEqual({ state: 'pending', raw: 'PENDING', node: undefined });
  });

  it("records the job in run.json from Slurm's variables, and names the machine by node when asked", () => {
    expect(
      schedulerInfo({
        SLURM_JOB_ID: '7',
        SLURMD_NODENAME: 'n1',
        SLURM_JOB_PARTITION: 'bench',
        LADDER_FLEET: 'f',
        LADDER_FLEET_CLASS: 'spr',
      }),
    ).toEqual({
      engine: 'slurm',
      job_id: '7',
      node: 'n1',
      partition: 'bench',
      fleet: 'f',
      class: 'spr',
    });
    expect(schedulerInfo({ LADDER_FLEET_JOB: 'local-1-spr', LADDER_FLEET: 'f' })).toMatchObject({
      engine: 'local',
      job_id: 'local-1-spr',
    });
    expect(schedulerInfo({})).toBeUndefined();
    expect(machineId(machine(), { LADDER_MACHINE_ID: 'n1' })).toBe('n1');
    expect(machineId(machine(), {})).toMatch(/^[0-9a-f]{12}$/);
    expect(() => machineId(machine(), { LADDER_MACHINE_ID: '../x' })).toThrow(/LADDER_MACHINE_ID/);
  });
});

describe('gathering and the cross-machine page', () => {
  const root = tmpDir();
  const m: Manifest = {
    manifest_version: 1,
    id: 'sub1',
    fleet: { name: 'lab', file: '/x/fleet.yaml', engine: 'slurm', root, command: 'nightly' },
    created: '2026-11-28T00:00:00Z',
    command: 'ladder fleet submit',
    jobs: [
      { class: 'spr', id: '1', state: 'completed', script: '', output: '' },
      { class: 'zen4', id: '2', state: 'completed', script: '', output: '' },
      { class: 'gnr', state: 'failed', error: 'sbatch: Invalid feature specification', script: '', output: '' },
    ],
  };
  const run = (node: string, cls: string, fleet: string, median: number) => ({
    schema_version: 2,
    tool: { version: '0' },
    command: 'ladder nightly',
    ladder: {
      name: 'article',
      file: 'a',
      baseline: 'baseline',
      figures: { baseline: { published_s: 32.3 }, fast: { published_s: 4.7 } },
    },
    started: '2026-11-28T01:00:00Z',
    finished: '2026-11-28T01:10:00Z',
    machine: { cpu_model: 'Xeon', logical_cpus: 2, memory_bytes: 2 ** 34, isa: { amx_bf16: true } },
    scheduler: { engine: 'slurm', job_id: '1', node, fleet, class: cls },
    rungs: [
      {
        id: 'baseline',
        status: 'ok',
        config: {},
        samples_s: [10, 10],
        stats: { median_s: 10, n: 2 },
        speedup_vs_baseline: 1,
      },
      {
        id: 'fast',
        status: 'ok',
        config: {},
        samples_s: [median, median],
        stats: { median_s: median, n: 2 },
        speedup_vs_baseline: 10 / median,
      },
    ],
    nightly: {
      machine_id: node,
      verdicts: [{ id: 'fast', verdict: 'regressed', ratio: 1.31, p: 0.001 }],
      version_changes: [{ env: 'openvino', package: 'openvino', from: '2026.4.1', to: '2026.5.0' }],
    },
  });
  const put = (node: string, stamp: string, data: unknown) => {
    mkdirSync(path.join(root, 'history', node, stamp), { recursive: true });
    writeFileSync(path.join(root, 'history', node, stamp, 'run.json'), JSON.stringify(data));
  };
  put('n1', 'a', run('n1', 'spr', 'sub1', 2));
  put('n2', 'a', run('n2', 'zen4', 'sub1', 4));
  put('n2', 'b', run('n2', 'zen4', 'another-submission', 5));
  put('n3', 'a', { not: 'a run' });

  it('takes the runs of this submission only, names the missing class, and warns of twins', () => {
    const g = gather(m);
    expect(g.runs.map((r) => [r.machine_id, r.class]).sort()).toEqual([
      ['n1', 'spr'],
      ['n2', 'zen4'],
    ]);
    expect(g.missing).toEqual([{ class: 'gnr', state: 'failed', error: 'sbatch: Invalid feature specification' }]);
    expect(g.twins).toEqual([{ fingerprint: 'Xeon, 2 CPUs, 16 GiB, amx_bf16', machine_ids: ['n1', 'n2'] }]);
    expect(g.skipped.map((s) => path.basename(path.dirname(path.dirname(s.file))))).toEqual(['n3']);
  });

  it('writes rung x machine with the article beside it, the verdicts and the version changes', () => {
    const g = gather(m);
    const machines = latestPerMachine(g);
    const md = renderFleetMd(m, g, machines);
    expect(md).toContain('| rung | article (s) | article speedup | spr (n1) | zen4 (n2) |');
    expect(md).toContain('| fast | 4.70 | 6.87x | 2.00 s · 5.00x | 4.00 s · 2.50x |');
    expect(md).toContain(
      'spr (n1): fast regressed 1.31x; versions changed: openvino 2026.4.1 -&gt; 2026.5.0 (openvino)',
    );
    expect(md).toMatch(/gnr: job failed: sbatch: Invalid feature specification/);
    const csv = renderFleetCsv(fleetCells(machines)).split('\r\n');
    expect(csv).toContain(`fast,n1,spr,ok,2,5,4.7,${32.3 / 4.7},,`);
  });
});
