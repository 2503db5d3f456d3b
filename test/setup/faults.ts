// The fault suite's tier: the sleep backend's environment, and the suite's line printed once every
// fault has been injected.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { provisionEnvs } from './provision.ts';

export default async function setup(): Promise<() => void> {
  await provisionEnvs(['torch']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ladder-faults-'));
  const ledger = path.join(dir, 'ledger.jsonl');
  process.env.LADDER_FAULT_LEDGER = ledger; // inherited by the test workers
  return () => {
    const entries = existsSync(ledger)
      ? readFileSync(ledger, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { survived: boolean; lost: number; orphans: number })
      : [];
    if (entries.length) {
      const sum = (f: (e: (typeof entries)[number]) => number) => entries.reduce((a, e) => a + f(e), 0);
      console.log(
        `faults: ${entries.length} injected, ${sum((e) => (e.survived ? 1 : 0))} survived, ${sum((e) => e.lost)} results lost, ${sum((e) => e.orphans)} orphans`,
      );
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
