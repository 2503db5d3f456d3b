// The roofline step after the rungs: the work of one image for the run's shapes, and this machine's
// matrix-product peak per dtype (probed in the torch environment, cached per machine and
// environment), so each rung gets its achieved GFLOP/s and its share of the peak. A peak probed in a
// slow moment would poison every later report, so a probe is the best of several, a peak below
// what a rung achieved is probed again, and a broken cache is rebuilt.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describeStack } from '../envs/stacks.ts';
import { writeJsonAtomic } from '../files.ts';
import type { Machine } from '../machine.ts';
import { peaksDir } from '../paths.ts';
import { abovePeak, placeOnRoofline, runPeaks } from '../results/roofline.ts';
import type { RunFile } from '../results/run-file.ts';
import { type Rung, resolvedOptions } from '../rungs/ladder.ts';
import type { WorkerSession } from '../worker/session.ts';
import { LOAD_DEADLINE_S, type Log, modelsDir, openSession, type RungSettings } from './rung.ts';

// int8: the peak an OpenVINO int8 UNet is placed against (torch._int_mm, GOP/s).
const DTYPES = ['fp32', 'bf16', 'int8'] as const;

/** Probes per dtype and seconds per probe of the peak (the best is kept). */
export const PEAK_PROBE = { repeats: 3, seconds: 2 };

/** The cached peaks: only positive finite numbers count, anything else is probed again. */
export function readPeaks(file: string, log: Log): Record<string, number> {
  if (!existsSync(file)) return {};
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    return Object.fromEntries(
      Object.entries(data).filter(
        (e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1]) && e[1] > 0,
      ),
    );
  } catch (err) {
    log(`  roofline: the peak cache ${file} is broken (${(err as Error).message.split('\n')[0]}): probing again`);
    return {};
  }
}

/** Runs a `probe` job: the best GFLOP/s per dtype, and every probe. */
export async function probeJob(
  session: WorkerSession,
  o: { dtypes: readonly string[]; seconds: number; repeats: number; label: string; options?: Record<string, unknown> },
): Promise<{ gflops: Record<string, number>; probes: Record<string, number[]>; seconds: number }> {
  const job = session.job('probe', { ...o, dtypes: [...o.dtypes] });
  session.setDeadline(60 + 3 * o.seconds * o.repeats * o.dtypes.length, 'matrix-product probe');
  const res = await job;
  return res as { gflops: Record<string, number>; probes: Record<string, number[]>; seconds: number };
}

/** The peak cache of this machine and the torch environment that probes it. */
export async function peakCacheFile(m: Machine): Promise<string> {
  const stack = await describeStack('torch');
  const key = createHash('sha256')
    .update(JSON.stringify([m.cpu_model, m.logical_cpus, m.isa, m.memory_bytes]))
    .digest('hex');
  return path.join(peaksDir(), `${key.slice(0, 12)}-torch-${stack.key}.json`);
}

export async function roofline(run: RunFile, settings: RungSettings & { reprobe?: boolean }, log: Log): Promise<void> {
  // The sleep backend has no model whose FLOPs could be counted.
  if (settings.model === 'none' || !run.rungs.some((r) => r.status === 'ok' && r.stats)) return;
  const probe: Rung = {
    id: 'roofline',
    description: 'FLOP count and peak probe',
    backend: 'torch',
    env: 'torch',
    launcher: { allocator: 'default' },
    options: {},
  };
  const cacheFile = await peakCacheFile(run.machine);
  const peaks = settings.reprobe ? {} : readPeaks(cacheFile, log);
  const needed = DTYPES.filter((d) => peaks[d] === undefined);
  log(
    `roofline: counting FLOPs for the run's shapes${needed.length ? ` and probing the ${needed.join('/')} matrix-product peak` : ''}`,
  );
  let session: WorkerSession | undefined;
  try {
    // The peak is the machine's, cached per pinned torch environment: probed there, whatever --envs says.
    session = await openSession(probe, { ...settings, envs: 'pinned' }, log);
    const loading = session.job('load', {
      model: settings.model,
      cache_dir: modelsDir(),
      backend: 'torch',
      options: resolvedOptions(probe),
      scenario: settings.scenario,
    });
    session.setDeadline(settings.jobTimeoutS ?? LOAD_DEADLINE_S, 'loads get an hour');
    await loading;
    const counting = session.job('roofline', { scenario: settings.scenario, peaks: [] });
    session.setDeadline(settings.jobTimeoutS ?? LOAD_DEADLINE_S, 'FLOP count');
    const flops = (await counting).flops as Record<string, number>;
    const probes: Record<string, { gflops: number[]; seconds: number }> = {};
    const measure = async (dtypes: readonly string[]) => {
      if (!dtypes.length) return;
      const res = await probeJob(session!, { dtypes, ...PEAK_PROBE, label: 'start' });
      for (const d of dtypes) {
        peaks[d] = res.gflops[d]!;
        probes[d] = { gflops: res.probes[d] ?? [], seconds: res.seconds };
      }
    };
    await measure(needed);
    run.roofline = { flops, peaks_gflops: peaks, peak_cache: cacheFile, peak_probes: probes };
    placeOnRoofline(run);
    // A cached peak below what a rung achieved, or below this run's own machine probe, was probed in
    // a slow moment: probe again.
    const low = DTYPES.filter((d) => !(d in probes) && (abovePeak(run, d) || runPeaks(run)[d]! > peaks[d]!));
    if (low.length) {
      log(`  roofline: the cached ${low.join('/')} peak is below what this run reached: probing it again`);
      await measure(low);
      placeOnRoofline(run);
    }
    await session.shutdown();
    // The cache keeps the best reading: this run's machine probe where it read higher.
    writeJsonAtomic(cacheFile, { ...peaks, ...runPeaks(run) });
    for (const d of DTYPES.filter((x) => abovePeak(run, x))) {
      log(
        `  roofline: a rung ran above the measured ${d} peak (${peaks[d]!.toFixed(0)} GFLOP/s): its share is not shown`,
      );
    }
  } catch (err) {
    log(`  roofline skipped: ${(err as Error).message}`);
  } finally {
    session?.kill();
  }
}
