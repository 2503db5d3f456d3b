import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  hostname: string;
  cpu_model: string;
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
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    flags = new Set((line?.split(':')[1] ?? '').trim().split(/\s+/));
  } catch {
    /* no /proc: flags unknown */
  }
  return {
    hostname: os.hostname(),
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    logical_cpus: os.cpus().length,
    isa: Object.fromEntries(ISA_FLAGS.map((f) => [f, flags.has(f)])),
    memory_bytes: os.totalmem(),
    os: osName(),
    kernel: os.release(),
    node: process.version,
  };
}
