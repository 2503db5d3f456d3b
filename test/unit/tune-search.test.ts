// The search logic without timing: a scripted executor whose candidates have known pass times
// (seeded noise), so that a known best must win, failures and quality drops are dropped with their
// reason, and the budget is honoured.
import { describe, expect, it } from 'vitest';
import { median } from '../../src/results/stats.ts';
import { DEFAULT_SEARCH, type Executor, type Measured, successiveHalving } from '../../src/tune/search.ts';
import type { Candidate } from '../../src/tune/space.ts';

/** Deterministic noise in [-1, 1) (xorshift), so the test never depends on timing. */
function rng(seed: number) {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) / 2 ** 32) * 2 - 1;
  };
}

interface Script {
  pass_s: number;
  setup_s?: number;
  fail?: string;
  psnr?: number;
}

function scripted(scripts: Record<string, Script>, noise = 0.01) {
  const calls: { index: number; ids: string[]; passes: number; left: number }[] = [];
  const next = rng(42);
  const measure = (id: string, s: Script, passes: number): Measured => {
    if (s.fail) return { id, status: 'failed', reason: s.fail, samples_s: [], setup_s: s.setup_s ?? 1 };
    const samples_s = Array.from({ length: passes }, () => s.pass_s * (1 + noise * next()));
    const median_s = median(samples_s);
    const psnr = s.psnr ?? 40;
    return {
      id,
      status: 'ok',
      samples_s,
      median_s,
      quality: { psnr_db: psnr, flagged: psnr < 20 },
      setup_s: s.setup_s ?? 1,
    };
  };
  const exec: Executor = {
    async round(index, candidates, passes, left) {
      calls.push({ index, ids: candidates.map((c) => c.id), passes, left });
      const measured = [
        measure('reference', { pass_s: 10, psnr: 35 }, passes),
        ...candidates.map((c) => measure(c.id, scripts[c.id]!, passes)),
      ];
      const seconds = measured.reduce((s, m) => s + m.setup_s + m.samples_s.reduce((a, b) => a + b, 0), 0) + 5;
      return { measured, seconds };
    },
  };
  const candidates = Object.keys(scripts).map((id) => ({ id, values: {}, rung: {} }) as unknown as Candidate);
  return { exec, calls, candidates };
}

describe('successive halving', () => {
  it('finds the known best among many, screening all and measuring few again', async () => {
    const scripts: Record<string, Script> = {};
    for (let i = 0; i < 12; i++) scripts[`c${i}`] = { pass_s: 10 + i };
    scripts.c7 = { pass_s: 6 };
    const { exec, calls, candidates } = scripted(scripts);
    const res = await successiveHalving(candidates, 'reference', exec, { ...DEFAULT_SEARCH, budgetS: 10_000 });
    expect(res.winner).toBe('c7');
    expect(calls[0]!.ids).toHaveLength(12);
    expect(calls[0]!.passes).toBe(1);
    // Each later round measures fewer candidates with more passes.
    for (let i = 1; i < calls.length; i++) {
      expect(calls[i]!.ids.length).toBeLessThan(calls[i - 1]!.ids.length + 1);
      expect(calls[i]!.passes).toBeGreaterThan(calls[i - 1]!.passes);
    }
    expect(res.stop).toMatch(/faster than .* with significance|one candidate left/);
  });

  it('stops after --max-rounds: the fastest of the last round wins, said to be unproven', async () => {
    const scripts: Record<string, Script> = {};
    for (let i = 0; i < 6; i++) scripts[`c${i}`] = { pass_s: 10 + i };
    scripts.c4 = { pass_s: 6 };
    const { exec, calls, candidates } = scripted(scripts);
    const res = await successiveHalving(candidates, 'reference', exec, {
      ...DEFAULT_SEARCH,
      budgetS: 10_000,
      maxRounds: 1,
    });
    expect(calls.map((c) => [c.ids.length, c.passes])).toEqual([[6, 1]]);
    expect(res.winner).toBe('c4');
    expect(res.stop).toBe(
      '1 round, the most asked (--max-rounds): c4 was the fastest, not shown faster with significance',
    );
    // Two rounds: the screening, then the kept ones with three times the passes.
    const two = scripted(scripts);
    await successiveHalving(two.candidates, 'reference', two.exec, {
      ...DEFAULT_SEARCH,
      budgetS: 10_000,
      maxRounds: 2,
    });
    expect(two.calls.map((c) => c.passes)).toEqual([1, 3]);
  });

  it('drops a candidate whose toggle failed, and one under the quality floor, with the reason', async () => {
    const { exec, candidates } = scripted({
      fast_but_broken: { pass_s: 2, fail: 'allocator: asked jemalloc, none mapped' },
      fast_but_drifted: { pass_s: 3, psnr: 12 },
      good: { pass_s: 8 },
      slow: { pass_s: 12 },
    });
    const res = await successiveHalving(candidates, 'reference', exec, { ...DEFAULT_SEARCH, budgetS: 10_000 });
    expect(res.winner).toBe('good');
    const dropped = Object.fromEntries(res.rounds[0]!.dropped.map((d) => [d.id, d.why]));
    expect(dropped.fast_but_broken).toBe('allocator: asked jemalloc, none mapped');
    expect(dropped.fast_but_drifted).toMatch(/quality floor \(PSNR 12\.0 dB\)/);
  });

  it('honours the budget: no round starts that the budget cannot pay for', async () => {
    const scripts: Record<string, Script> = {};
    for (let i = 0; i < 9; i++) scripts[`c${i}`] = { pass_s: 10 + 0.01 * i, setup_s: 30 };
    const { exec, calls, candidates } = scripted(scripts, 0.2);
    // Screening: 9 x (30 + 10) + the reference (1 + 10) + 5 = about 376 s. The next round would be
    // 3 x (30 + 3 x 10) + the reference (1 + 3 x 10) = about 211 s more: past 500.
    const budgetS = 500;
    const res = await successiveHalving(candidates, 'reference', exec, { ...DEFAULT_SEARCH, budgetS });
    expect(calls).toHaveLength(1);
    expect(res.spent_s).toBeLessThanOrEqual(budgetS);
    expect(res.stop).toMatch(/the next round \(3 candidates, 3 passes, about \d+ s\) would not fit in the budget/);
    expect(res.winner).toBeDefined();
    // With room for it, the same search goes on.
    const more = scripted(scripts, 0.2);
    const res2 = await successiveHalving(more.candidates, 'reference', more.exec, { ...DEFAULT_SEARCH, budgetS: 5000 });
    expect(more.calls.length).toBeGreaterThan(1);
    // Each round is told what is left, so that it skips what it has no time to start.
    let spent = 0;
    for (const [i, c] of more.calls.entries()) {
      expect(c.left).toBeCloseTo(5000 - spent, 9);
      spent += res2.rounds[i]!.seconds;
    }
  });

  it('judges quality in the screening round only, and keeps that verdict in later rounds', async () => {
    const { exec, calls, candidates } = scripted({ a: { pass_s: 5, psnr: 12 }, b: { pass_s: 8 }, c: { pass_s: 9 } });
    const unjudged: Executor = {
      async round(index, cs, passes, left) {
        const r = await exec.round(index, cs, passes, left);
        if (index > 0) for (const m of r.measured) m.quality = undefined;
        return r;
      },
    };
    const res = await successiveHalving(candidates, 'reference', unjudged, { ...DEFAULT_SEARCH, budgetS: 10_000 });
    expect(calls.length).toBeGreaterThan(1);
    // a drifted in round 0 and is never the winner; b keeps its round-0 PSNR and wins.
    expect(res.winner).toBe('b');
    expect(res.latest.b!.round).toBeGreaterThan(0);
    expect(res.latest.b!.quality).toEqual({ psnr_db: 40, flagged: false });
  });
});
