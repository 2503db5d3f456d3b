// Checks everything the ladder needs and says how to get what is missing.
import { mkdirSync, statfsSync } from 'node:fs';
import os from 'node:os';
import { execa } from 'execa';
import type { Argv } from 'yargs';
import { envUnusable } from '../backends/registry.ts';
import { basePython, describeStack, stackNames } from '../envs/stacks.ts';
import { EXIT } from '../exit-codes.ts';
import { ALLOCATORS, allocatorSpec, findAllocator } from '../launcher/allocators.ts';
import { findTool } from '../launcher/launch.ts';
import { machine } from '../machine.ts';
import { cacheRoot } from '../paths.ts';
import { jsonOption, printJson } from './options.ts';

interface Check {
  what: string;
  ok: boolean;
  detail: string;
  /** Debian package that fixes it, installed by --fix when root. */
  apt?: string;
  required: boolean;
}

async function checks(): Promise<Check[]> {
  const out: Check[] = [];
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  out.push({ what: 'node', ok: nodeMajor >= 20, detail: process.version, required: true });
  try {
    const { stdout } = await execa(basePython(), ['-c', 'import sys, venv, ensurepip; print(sys.version.split()[0])']);
    out.push({ what: 'python', ok: true, detail: `${basePython()} ${stdout.trim()} with venv`, required: true });
  } catch {
    out.push({
      what: 'python',
      ok: false,
      detail: `${basePython()} with the venv module not found`,
      apt: 'python3-venv',
      required: true,
    });
  }
  const here = machine();
  for (const name of stackNames()) {
    try {
      const s = await describeStack(name);
      const why = envUnusable(name, here);
      if (why && s.state !== 'ready') {
        out.push({ what: `env ${name}`, ok: true, detail: `not needed on this machine: ${why}`, required: false });
        continue;
      }
      out.push({
        what: `env ${name}`,
        ok: s.state === 'ready',
        detail: `${s.state} (${s.dir})${s.state === 'ready' ? '' : `: ladder envs provision ${name}`}`,
        required: false,
      });
    } catch (err) {
      out.push({ what: `env ${name}`, ok: false, detail: (err as Error).message, required: false });
    }
  }
  for (const alloc of ALLOCATORS) {
    const lib = findAllocator(alloc);
    const apt = allocatorSpec(alloc).package;
    out.push({
      what: alloc,
      ok: !!lib,
      detail: lib ?? `not found: apt-get install ${apt}`,
      apt,
      required: false,
    });
  }
  for (const [tool, pkg] of [
    ['numactl', 'numactl'],
    ['taskset', 'util-linux'],
  ] as const) {
    const p = findTool(tool);
    out.push({
      what: tool,
      ok: !!p,
      detail: p ?? `not found (only for core binding): apt-get install ${pkg}`,
      apt: pkg,
      required: false,
    });
  }
  // The sdcpp environment builds stable-diffusion.cpp from source (envs/sdcpp/post-install.sh).
  for (const [tool, pkg] of [
    ['cmake', 'cmake'],
    ['g++', 'g++'],
  ] as const) {
    const p = findTool(tool);
    out.push({
      what: tool,
      ok: !!p,
      detail: p ?? `not found (only to build the sdcpp environment): apt-get install ${pkg}`,
      apt: pkg,
      required: false,
    });
  }
  mkdirSync(cacheRoot(), { recursive: true });
  const fs = statfsSync(cacheRoot());
  const free = (fs.bavail * fs.bsize) / 2 ** 30;
  // torch + openvino + ipex environments and the synthetic SD 1.5 with its OpenVINO export.
  out.push({
    what: 'disk',
    ok: free >= 30,
    detail: `${free.toFixed(0)} GiB free at ${cacheRoot()} (about 30 GiB needed for all environments and models)`,
    required: false,
  });
  const mem = os.totalmem() / 2 ** 30;
  out.push({
    what: 'memory',
    ok: mem >= 16,
    detail: `${mem.toFixed(0)} GiB (full-size SD 1.5 rungs want about 16 GiB)`,
    required: false,
  });
  const m = machine();
  out.push({
    what: 'cpu',
    ok: true,
    detail: `${m.cpu_model}, ${m.logical_cpus} logical CPUs; ${Object.entries(m.isa)
      .map(([k, v]) => `${k}:${v ? 'yes' : 'no'}`)
      .join(' ')}`,
    required: false,
  });
  return out;
}

export const doctorCommand = {
  command: 'doctor',
  describe: 'Check Python, environments, allocator libraries, numactl, disk and memory',
  builder: (y: Argv) =>
    jsonOption(y, 'the checks').option('fix', {
      type: 'boolean',
      default: false,
      describe: 'install missing system packages with apt-get (needs root)',
    }),
  handler: async (a: { fix: boolean; json: boolean }) => {
    // --json: what --fix says and apt-get prints goes to stderr, the checks alone to stdout.
    const say = a.json ? (l: string) => console.error(l) : (l: string) => console.log(l);
    const stdio = a.json ? (['ignore', process.stderr, process.stderr] as const) : ('inherit' as const);
    let results = await checks();
    const missing = [...new Set(results.filter((c) => !c.ok && c.apt).map((c) => c.apt!))];
    if (a.fix && missing.length) {
      if (process.getuid?.() !== 0) {
        say(`not root: install by hand: sudo apt-get install -y ${missing.join(' ')}`);
      } else {
        say(`installing: ${missing.join(' ')}`);
        await execa('apt-get', ['update', '-qq'], { stdio });
        await execa('apt-get', ['install', '-y', '-qq', ...missing], {
          stdio,
          env: { DEBIAN_FRONTEND: 'noninteractive' },
        });
        results = await checks();
      }
    }
    const ok = !results.some((c) => c.required && !c.ok);
    if (a.json) printJson({ ok, checks: results });
    else
      for (const c of results)
        console.log(`${c.ok ? 'ok     ' : c.required ? 'MISSING' : 'warn   '} ${c.what.padEnd(13)} ${c.detail}`);
    if (!ok) process.exitCode = EXIT.FAILED;
  },
};
