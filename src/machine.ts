import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { UserError } from './errors.ts';

export interface Machine {
  hostname: string;
  cpu_model: string;
  /** vendor_id of /proc/cpuinfo (GenuineIntel, AuthenticAMD); absent in older runs. */
  cpu_vendor?: string;
  logical_cpus: number;
  isa: Record<string, boolean>;
  memory_bytes: number;
  os: string;
  kernel: string;
  node: string;
}

const ISA_FLAGS = ['avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_tile'];

function osName(): string {
  try {
    const m = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)"?/m);
    if (m?.[1]) return m[1];
  } catch {
    /* not Linux: fall back below */
  }
  return `${os.type()} ${os.release()}`;
}

export function machine(): Machine {
  let flags = new Set<string>();
  let vendor: string | undefined;
  try {
    const lines = readFileSync('/proc/cpuinfo', 'utf8').split('\n');
    const field = (name: string) =>
      lines
        .find((l) => l.startsWith(name))
        ?.split(':')[1]
        ?.trim();
    flags = new Set((field('flags') ?? '').split(/\s+/));
    vendor = field('vendor_id');
  } catch {
    /* no /proc: flags and vendor unknown */
  }
  return {
    hostname: os.hostname(),
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    cpu_vendor: vendor,
    logical_cpus: os.cpus().length,
    isa: Object.fromEntries(ISA_FLAGS.map((f) => [f, flags.has(f)])),
    memory_bytes: os.totalmem(),
    os: osName(),
    kernel: os.release(),
    node: process.version,
  };
}

/**
 * Stable for one machine across runs (its systemd machine-id and hardware), different between
 * machines. LADDER_MACHINE_ID overrides it: a fleet of several Slurm nodes on one host (the tests)
 * names each run by its node.
 */
export function machineId(m: Machine, env = process.env): string {
  const given = env.LADDER_MACHINE_ID;
  if (given !== undefined && given !== '') {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(given))
      throw new UserError(`LADDER_MACHINE_ID=${given}: must be letters, digits, dots, dashes and underscores`);
    return given;
  }
  let id = os.hostname();
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    if (existsSync(f)) {
      id = readFileSync(f, 'utf8').trim();
      break;
    }
  }
  const hash = createHash('sha256')
    .update(JSON.stringify([id, m.cpu_model, m.logical_cpus, m.memory_bytes]))
    .digest('hex');
  return hash.slice(0, 12);
}
