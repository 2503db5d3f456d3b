// The quality guard: every measured rung's final image against an fp32 image of the same scheduler
// and size, made from the same seed and initial latents. With random weights this measures
// numerical drift, not image quality; a rung that changes the math (fewer steps, caching) cannot be
// judged this way.
import path from 'node:path';
import { getBackend } from '../backends/registry.ts';
import { compareImages, readNpy } from '../results/quality.ts';
import type { RunFile, RungResult } from '../results/run-file.ts';
import { type Rung, resolvedOptions } from '../rungs/ladder.ts';
import { type Log, type RungSettings, runRung } from './rung.ts';

export const DEFAULT_MIN_PSNR_DB = 20;

/** The reference rung for `rung`: itself when it is one, else a one-pass rung of the backend it names. */
function referenceFor(rung: Rung): { key: string; rung?: Rung } {
  const options = resolvedOptions(rung);
  const ref = getBackend(rung.backend).reference(options);
  const scheduler = String(options.scheduler ?? 'default');
  if (ref === 'self') return { key: `${rung.backend}/${scheduler}` };
  const backend = getBackend(ref.backend);
  const id = ref.backend === 'torch' ? `reference-${scheduler}` : `reference-${ref.backend}-${scheduler}`;
  return {
    key: `${ref.backend}/${scheduler}`,
    rung: {
      id,
      description: `fp32 ${ref.backend} reference image, scheduler ${scheduler}`,
      backend: ref.backend,
      env: backend.env,
      launcher: { allocator: 'default' },
      options: ref.options,
    },
  };
}

/** Reference images of the ladder itself first; the missing ones are made in one-pass runs. */
export async function qualityGuard(
  run: RunFile,
  rungs: Rung[],
  settings: RungSettings & { minPsnrDb?: number },
  log: Log,
): Promise<void> {
  run.references = [];
  const images = new Map<string, string>(); // reference key -> image path ('' when it failed)
  // By id: a resumed run also holds rungs kept from before, whose rung is in their config.
  const byId = new Map(rungs.map((r) => [r.id, r]));
  const refs = run.rungs.map((slot) => referenceFor(byId.get(slot.id) ?? (slot.config as unknown as Rung)));
  for (const [i, slot] of run.rungs.entries()) {
    if (slot.status === 'ok' && slot.image && !refs[i]!.rung && !images.has(refs[i]!.key))
      images.set(refs[i]!.key, slot.image);
  }
  for (const [i, slot] of run.rungs.entries()) {
    const ref = refs[i]!;
    if (slot.status !== 'ok' || !slot.image || images.has(ref.key) || !ref.rung) continue;
    log(`quality reference ${ref.rung.id}: ${ref.rung.description}`);
    const refSlot: RungResult = { id: ref.rung.id, status: 'running', config: {}, samples_s: [] };
    const scheduler = String(resolvedOptions(ref.rung).scheduler ?? 'default');
    try {
      await runRung(
        ref.rung,
        { ...settings, scenario: { ...settings.scenario, passes: 1, warmup_steps: 0, min_time_s: 0 } },
        log,
        refSlot,
      );
      images.set(ref.key, refSlot.image!);
      run.references.push({ id: ref.rung.id, scheduler, status: 'ok', image: refSlot.image });
    } catch (err) {
      run.references.push({ id: ref.rung.id, scheduler, status: 'failed', error: (err as Error).message });
      images.set(ref.key, '');
    }
  }
  const min = settings.minPsnrDb ?? DEFAULT_MIN_PSNR_DB;
  for (const [i, slot] of run.rungs.entries()) {
    const ref = images.get(refs[i]!.key);
    if (slot.status !== 'ok' || !slot.image || !ref) continue;
    try {
      const q = compareImages(
        readNpy(path.join(settings.outDir, slot.image)).data,
        readNpy(path.join(settings.outDir, ref)).data,
      );
      // JSON has no Infinity: null means identical to the reference.
      slot.quality = {
        reference: ref,
        psnr_db: Number.isFinite(q.psnr_db) ? q.psnr_db : null,
        max_abs_diff: q.max_abs_diff,
        flagged: q.psnr_db < min,
      };
      if (slot.quality.flagged)
        log(`  quality: ${slot.id} drifted: PSNR ${q.psnr_db.toFixed(1)} dB < ${min} dB against ${ref}`);
    } catch (err) {
      log(`  quality: cannot compare ${slot.id}: ${(err as Error).message}`);
    }
  }
}
