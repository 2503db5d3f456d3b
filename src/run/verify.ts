// Compares what a rung asked for with what the worker reports it really has. Any difference means
// the toggle did not take effect, and the rung's figure must not be reported. The launcher's
// toggles (allocator, threads, binding) are proven here; each backend proves its own options.
import { getBackend } from '../backends/registry.ts';
import type { CommonEffective } from '../backends/types.ts';
import { allocatorSpec } from '../launcher/allocators.ts';
import { parseCores } from '../launcher/config.ts';
import { type Rung, resolvedOptions } from '../rungs/ladder.ts';

/** Allocator mapped and its options, thread count, CPU binding. */
export function proveLauncher(rung: Rung, eff: CommonEffective): string[] {
  const problems: string[] = [];
  const L = rung.launcher;
  const alloc = eff.allocator;
  if (alloc && alloc.name !== L.allocator) {
    problems.push(
      `allocator: asked ${L.allocator}, worker has ${alloc.name} mapped (LD_PRELOAD=${alloc.ld_preload || 'unset'})`,
    );
  }
  const spec = L.allocator === 'default' ? undefined : allocatorSpec(L.allocator);
  if (spec?.conf_env && L.malloc_conf && alloc?.name === L.allocator) {
    const want = L.malloc_conf.replace(/\s+/g, '');
    if (alloc.malloc_conf !== want)
      problems.push(`${spec.conf_env}: asked ${want}, worker sees ${alloc.malloc_conf || 'unset'}`);
    for (const [opt, value] of Object.entries(alloc.opts ?? {})) {
      if (opt === 'oversize_threshold') continue; // jemalloc rounds it down to a size class (1 reads back as 0)
      const asked = want
        .split(',')
        .map((kv) => kv.split(':'))
        .find(([k]) => k === opt)?.[1];
      if (asked !== undefined && String(value) !== asked) {
        problems.push(`${L.allocator} opt.${opt}: asked ${asked}, ${L.allocator} reports ${String(value)}`);
      }
    }
  }
  if (L.threads !== undefined && eff.torch_threads !== undefined && eff.torch_threads !== L.threads) {
    problems.push(`threads: asked ${L.threads}, torch uses ${eff.torch_threads}`);
  }
  if (L.bind && L.bind !== 'none' && L.cores && eff.cpu) {
    const want = parseCores(L.cores).join(',');
    if (eff.cpu.affinity.join(',') !== want)
      problems.push(`binding: asked cores ${want}, worker runs on ${eff.cpu.affinity.join(',')}`);
  }
  return problems;
}

/** Differences visible right after load: the launcher's, then the backend's. */
export function verifyLoaded(rung: Rung, eff: CommonEffective): string[] {
  return [
    ...proveLauncher(rung, eff),
    ...getBackend(rung.backend).proveLoaded(resolvedOptions(rung), eff, rung.launcher),
  ];
}

/** Differences seen only while running (the dtype the UNet really computes in). */
export function verifyRuntime(rung: Rung, eff: CommonEffective): string[] {
  return getBackend(rung.backend).proveRuntime(resolvedOptions(rung), eff);
}
