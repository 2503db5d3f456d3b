// "Did you mean ...?": the nearest known word to a mistyped one, by edit distance.

/**
 * Edit distance: insertions, deletions, substitutions and swaps of two neighbours (lsit -> list), one
 * each (optimal string alignment).
 */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/**
 * The known word closest to `word`, or undefined when none is close: at most a third of the word's
 * length away (at least 1, at most 3), so that a typo finds its word and an unrelated one finds nothing.
 */
export function closest(word: string, known: Iterable<string>): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= limit ? best : undefined;
}

/** " (did you mean X?)", or nothing. */
export function didYouMean(word: string, known: Iterable<string>, prefix = ''): string {
  const c = closest(word, known);
  return c === undefined ? '' : ` (did you mean ${prefix}${c}?)`;
}
