// What a run measures (the scenario) and with what model, from defaults and command-line flags.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { ARTICLE_SCENARIO, type Scenario } from '../protocol/scenario.ts';

export { ARTICLE_SCENARIO, SCHEDULERS, type Scenario } from '../protocol/scenario.ts';

/**
 * Profiles: the article's settings (its 10 passes as 5 rounds of 2, see PROFILE_ROUNDS); a reduced
 * full-size run; a smoke run of seconds per rung for tests and CI. Flags override any field.
 */
export const PROFILES: Record<string, Scenario> = {
  article: { ...ARTICLE_SCENARIO, passes: 2 },
  quick: { ...ARTICLE_SCENARIO, steps: 5, warmup_steps: 2, passes: 2 },
  smoke: { ...ARTICLE_SCENARIO, steps: 2, warmup_steps: 1, passes: 2, height: 64, width: 64 },
};

/**
 * Rounds of each profile: every rung runs once per round in a fresh worker, the rounds interleaved,
 * so each ratio is taken between rungs measured close in time (these machines drift 1.4-1.6x within
 * an hour). The article's 10 passes are 5 rounds of 2; quick's 3 rounds of 2; smoke runs one round.
 */
export const PROFILE_ROUNDS: Record<string, number> = { article: 5, quick: 3, smoke: 1 };

/** "45m", "1h30m", "90s", "2h" or plain seconds, for the flag `name`. */
export function parseDuration(text: string, name = '--budget'): number {
  const m = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$/.exec(text.trim());
  const s = m ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : Number.NaN;
  if (!m || !(s > 0) || !Number.isFinite(s))
    throw new UserError(`${name} ${text}: expected a duration like 45m, 1h30m or 90s`);
  return s;
}

/** "5%" or 0.05: a relative precision, above 0 and below 100%. */
export function parsePrecision(text: string): number {
  const t = String(text).trim();
  const x = t.endsWith('%') ? Number(t.slice(0, -1)) / 100 : Number(t);
  if (!t || !(x > 0 && x < 1)) throw new UserError(`--precision ${text}: expected a share like 5% or 0.05`);
  return x;
}

/** A number from the command line: finite, of the right kind, within a sane range; else one line, exit 2. */
/** Refuses a hexadecimal, octal or binary value given to a number flag (`--steps 0x10`). */
export function checkDecimal(args: string[], numberFlags: string[]): void {
  const numbers = new Set(numberFlags);
  for (const [i, arg] of args.entries()) {
    const m = /^--([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!m || !numbers.has(m[1]!)) continue;
    const value = m[2] ?? args[i + 1];
    if (value !== undefined && /^[+-]?0[xob]/i.test(value.trim()))
      throw new UserError(`--${m[1]} ${value}: expected a decimal number`);
  }
}

export function checkNumber(name: string, value: number, o: { int?: boolean; min: number; max: number }): number {
  const kind = o.int ? 'an integer' : 'a number';
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (o.int && !Number.isInteger(value)) ||
    value < o.min ||
    value > o.max
  ) {
    throw new UserError(`${name} must be ${kind} from ${o.min} to ${o.max} (got ${String(value)})`);
  }
  return value;
}

export function checkScenario(s: Scenario): Scenario {
  for (const dim of ['height', 'width'] as const) {
    checkNumber(dim, s[dim], { int: true, min: 8, max: 4096 });
    if (s[dim] % 8 !== 0) throw new UserError(`${dim} must be a positive multiple of 8 (got ${s[dim]})`);
  }
  checkNumber('steps', s.steps, { int: true, min: 1, max: 1000 });
  checkNumber('passes', s.passes, { int: true, min: 1, max: 100_000 });
  checkNumber('warmup-steps', s.warmup_steps, { int: true, min: 0, max: 1000 });
  checkNumber('guidance-scale', s.guidance_scale, { min: 0, max: 100 });
  checkNumber('min-time', s.min_time_s, { min: 0, max: 7 * 86_400 });
  checkNumber('max-passes', s.max_passes, { int: true, min: 1, max: 100_000 });
  if (s.max_passes < s.passes)
    throw new UserError(
      `max-passes ${s.max_passes} is below passes ${s.passes}: raise --max-passes or give fewer passes`,
    );
  checkNumber('seed', s.seed, { int: true, min: 0, max: 2 ** 32 - 1 });
  if (!s.prompt.trim() || s.prompt.length > 10_000) throw new UserError('prompt must be 1 to 10000 characters');
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
