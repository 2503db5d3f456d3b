// What a run measures (the scenario) and with what model, from defaults and command-line flags.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
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

/**
 * Profiles: the article's settings; a reduced full-size run; a smoke run of seconds per rung for
 * tests and CI. Flags override any field.
 */
export const PROFILES: Record<string, Scenario> = {
  article: ARTICLE_SCENARIO,
  quick: { ...ARTICLE_SCENARIO, steps: 5, warmup_steps: 2, passes: 3 },
  smoke: { ...ARTICLE_SCENARIO, steps: 2, warmup_steps: 1, passes: 2, height: 64, width: 64 },
};

export function checkScenario(s: Scenario): Scenario {
  for (const dim of ['height', 'width'] as const) {
    if (!Number.isInteger(s[dim]) || s[dim] < 8 || s[dim] % 8 !== 0)
      throw new UserError(`${dim} must be a positive multiple of 8 (got ${s[dim]})`);
  }
  if (!Number.isInteger(s.steps) || s.steps < 1) throw new UserError(`steps must be an integer >= 1 (got ${s.steps})`);
  if (!Number.isInteger(s.passes) || s.passes < 1)
    throw new UserError(`passes must be an integer >= 1 (got ${s.passes})`);
  if (!Number.isInteger(s.warmup_steps) || s.warmup_steps < 0)
    throw new UserError(`warmup-steps must be an integer >= 0 (got ${s.warmup_steps})`);
  if (!Number.isFinite(s.guidance_scale) || s.guidance_scale < 0)
    throw new UserError(`guidance-scale must be a number >= 0 (got ${s.guidance_scale})`);
  if (!Number.isFinite(s.min_time_s) || s.min_time_s < 0)
    throw new UserError(`min-time must be a number of seconds >= 0 (got ${s.min_time_s})`);
  if (!Number.isInteger(s.max_passes) || s.max_passes < s.passes)
    throw new UserError(`max-passes must be an integer >= passes (got ${s.max_passes})`);
  if (!Number.isInteger(s.seed) || s.seed < 0) throw new UserError(`seed must be an integer >= 0 (got ${s.seed})`);
  return s;
}

const SYNTHETIC = ['synthetic:sd15', 'synthetic:tiny'];
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** Checks a --model value's form; the worker does the rest (a hub id must be in the local cache). */
export function checkModel(spec: string): string {
  // `none`: no model at all, for the sleep (mock) backend.
  if (spec === 'auto' || spec === 'none' || SYNTHETIC.includes(spec)) return spec;
  const forms = `auto, ${SYNTHETIC.join(', ')}, a hub id (org/name) or a local diffusers folder`;
  if (spec.startsWith('synthetic:')) throw new UserError(`unknown model '${spec}': expected ${forms}`);
  if (existsSync(spec)) {
    if (!statSync(spec).isDirectory() || !existsSync(path.join(spec, 'model_index.json'))) {
      throw new UserError(`model '${spec}' is not a diffusers folder (no model_index.json)`);
    }
    return path.resolve(spec);
  }
  if (HUB_ID.test(spec)) return spec;
  throw new UserError(`unknown model '${spec}': expected ${forms}`);
}
