// The job script of one class: a bash script that runs ladder on the node, into the shared root.
// The engine's own options (exclusive node, feature, partition) are given on its command line, so
// the same script runs under Slurm and locally.
import path from 'node:path';
import { repoRoot } from '../paths.ts';
import { shq } from '../shell.ts';
import type { Fleet, MachineClass } from './config.ts';

/** A word as bash reads it back unchanged (single quotes; a quote inside closed, escaped, reopened). */

export function ladderArgs(fleet: Fleet): string[] {
  const history = path.join(fleet.root, 'history');
  return [
    fleet.command,
    // Both commands write <history>/<machine-id>/<time>/run.json, the layout of nightly runs.
    '--history',
    history,
    '--ladder',
    fleet.ladder,
    '--profile',
    fleet.profile,
    '--model',
    fleet.model,
    '--envs',
    fleet.envs,
    ...fleet.args,
  ];
}

export function jobScript(fleet: Fleet, cls: MachineClass, fleetId: string): string {
  const args = ladderArgs(fleet).map(shq);
  return [
    '#!/bin/bash',
    `# ladder fleet ${fleet.name} (${fleetId}), class ${cls.name}: written by ladder fleet submit`,
    'set -euo pipefail',
    `export LADDER_FLEET=${shq(fleetId)} LADDER_FLEET_CLASS=${shq(cls.name)}`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, for the job's shell to do
    ...(fleet.machine_id === 'node' ? ['export LADDER_MACHINE_ID="${SLURMD_NODENAME:-$(hostname)}"'] : []),
    `cd ${shq(repoRoot)}`,
    `exec ${shq(process.execPath)} bin/ladder.js ${args.join(' ')}`,
    '',
  ].join('\n');
}
