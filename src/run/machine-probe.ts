// How much the machine itself moved during a run: a few seconds of matrix products at the start and
// at the end, in a worker of the ladder's first rung (the sleep mock answers from its script). Per-image
// times differ up to 3x between VMs of one kind and drift within a run; a night whose machine moved
// cannot call a rung regressed.
import type { MachineProbe } from '../results/run-file.ts';
import { type Rung, resolvedOptions } from '../rungs/ladder.ts';
import { probeJob } from './roofline-step.ts';
import { type Log, openSession, type RungSettings } from './rung.ts';

export const DRIFT_PROBE = { dtypes: ['fp32', 'bf16'], seconds: 0.5, repeats: 2 } as const;

export async function probeMachine(
  probe: MachineProbe,
  rung: Rung,
  label: 'start' | 'end',
  settings: RungSettings,
  log: Log,
): Promise<void> {
  const at = new Date().toISOString();
  const session = await openSession({ ...rung, id: `machine-probe-${label}` }, settings, () => undefined).catch(
    (err: Error) => err,
  );
  if (session instanceof Error) return log(`machine probe (${label}) skipped: ${session.message}`);
  try {
    const res = await probeJob(session, { ...DRIFT_PROBE, label, options: resolvedOptions(rung) });
    await session.shutdown();
    probe[label] = { gflops: res.gflops, probes: res.probes, at };
    const rates = Object.entries(res.gflops)
      .map(([d, g]) => `${d} ${g.toFixed(0)}`)
      .join(', ');
    if (label === 'start' || !probe.start) return log(`machine probe (${label}): ${rates} GFLOP/s`);
    const start = probe.start.gflops;
    probe.moved = Object.fromEntries(
      Object.entries(res.gflops)
        .filter(([d]) => start[d])
        .map(([d, g]) => [d, (g - start[d]!) / start[d]!]),
    );
    const moved = Object.entries(probe.moved)
      .map(([d, x]) => `${d} ${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`)
      .join(', ');
    log(`machine probe (end): ${rates} GFLOP/s; moved during the run: ${moved}`);
  } catch (err) {
    log(`machine probe (${label}) skipped: ${(err as Error).message}`);
  } finally {
    session.kill();
  }
}

/** The machine's matrix-product rate per dtype now (one probe between rounds); undefined when it failed. */
export async function probeRound(
  rung: Rung,
  settings: RungSettings,
  log: Log,
): Promise<Record<string, number> | undefined> {
  const session = await openSession({ ...rung, id: 'machine-probe-round' }, settings, () => undefined).catch(
    (err: Error) => err,
  );
  if (session instanceof Error) return void log(`machine probe (round) skipped: ${session.message}`);
  try {
    const res = await probeJob(session, { ...DRIFT_PROBE, label: 'round', options: resolvedOptions(rung) });
    await session.shutdown();
    log(
      `machine probe: ${Object.entries(res.gflops)
        .map(([d, g]) => `${d} ${g.toFixed(0)}`)
        .join(', ')} GFLOP/s`,
    );
    return res.gflops;
  } catch (err) {
    log(`machine probe (round) skipped: ${(err as Error).message}`);
    return undefined;
  } finally {
    session.kill();
  }
}
