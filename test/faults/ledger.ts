// The fault suite's ledger: each injected fault records whether the run survived it, how many
// measured results it lost and how many worker processes it left behind. test/setup/faults.ts
// prints the total after the last test: `faults: N injected, N survived, 0 results lost, 0 orphans`.
import { appendFileSync } from 'node:fs';

export function fault(name: string, survived: boolean, o: { lost?: number; orphans?: number } = {}): void {
  const file = process.env.LADDER_FAULT_LEDGER;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ name, survived, lost: o.lost ?? 0, orphans: o.orphans ?? 0 })}\n`);
}
