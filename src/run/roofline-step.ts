// The roofline step after the rungs: the work of one image for the run's shapes, and this machine's
// matrix-product peak per dtype (probed in the torch environment, cached per machine and
// environment), so each rung gets its achieved GFLOP/s and its share of the peak.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describeStack } from '../envs/stacks.ts';
import { cacheRoot } from '../paths.ts';
import { placeOnRoofline } from '../results/roofline.ts';
import { type RunFile, writeJsonAtomic } from '../results/run-file.ts';
import { type Rung, resolvedOptions } from '../rungs/ladder.ts';
import type { WorkerSession } from '../worker/session.ts';
import { type Log, modelsDir, openSession, type RungSettings } from './rung.ts';

export async function roofline(run: RunFile, settings: RungSettings, log: Log): Promise<void> {
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
  const stack = await describeStack(probe.env);
  const m = run.machine;
  const machineKey = createHash('sha256')
    .update(JSON.stringify([m.cpu_model, m.logical_cpus, m.isa, m.memory_bytes]))
    .digest('hex')
    .slice(0, 12);
  const cacheFile = path.join(cacheRoot(), 'peaks', `${machineKey}-torch-${stack.key}.json`);
  const cached: Record<string, number> = existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, 'utf8')) : {};
  const needed = (['fp32', 'bf16'] as const).filter((d) => cached[d] === undefined);
  log(
    `roofline: counting FLOPs for the run's shapes${needed.length ? ` and probing the ${needed.join('/')} matrix-product peak` : ''}`,
  );
  let session: WorkerSession | undefined;
  try {
    session = await openSession(probe, settings, log);
    await session.job('load', {
      model: settings.model,
      cache_dir: modelsDir(),
      backend: 'torch',
      options: resolvedOptions(probe),
      scenario: settings.scenario,
    });
    const res = await session.job('roofline', { scenario: settings.scenario, peaks: needed });
    await session.shutdown();
    const peaks = { ...cached, ...(res.peaks_gflops as Record<string, number>) };
    writeJsonAtomic(cacheFile, peaks);
    run.roofline = { flops: res.flops as Record<string, number>, peaks_gflops: peaks, peak_cache: cacheFile };
    placeOnRoofline(run);
  } catch (err) {
    log(`  roofline skipped: ${(err as Error).message}`);
  } finally {
    session?.kill();
  }
}
