// The scenario a pass runs and the scheduler names: protocol/scenario.json, read by the controller
// (here) and by the worker (python/ladder_worker/scenario.py), so both say the same.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../paths.ts';

export interface Scenario {
  prompt: string;
  steps: number;
  warmup_steps: number;
  passes: number;
  height: number;
  width: number;
  guidance_scale: number;
  seed: number;
  output_type: 'np';
  /** Keep adding passes until this much time was measured (up to max_passes). */
  min_time_s: number;
  max_passes: number;
}

// The scheduler names and the article's scenario are defined once, in protocol/scenario.json, which
// the worker reads too.
const SHARED = JSON.parse(readFileSync(path.join(repoRoot, 'protocol', 'scenario.json'), 'utf8')) as {
  schedulers: Record<string, string | null>;
  article_scenario: Scenario;
};

/** A rung's `scheduler` option -> the diffusers class it swaps in (null: the model's own, PNDM for SD 1.5). */
export const SCHEDULERS: Record<string, string | null> = SHARED.schedulers;

/** The article's protocol: warm-up at 10 steps, 10 passes at 20 steps, 512x512, output_type "np". */
export const ARTICLE_SCENARIO: Scenario = SHARED.article_scenario;
