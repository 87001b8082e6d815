/** Levenshtein distance, for "did you mean" hints on misspelt settings. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known name closest to `name`, when it is close enough to be a slip (a missing S, a swapped
 * word, one word of a longer name) rather than a different setting. Case is ignored.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const wanted = name.toUpperCase();
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(wanted, candidate.toUpperCase());
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  if (!best) return undefined;
  const allowed = Math.max(2, Math.floor(Math.min(name.length, best.name.length) / 4));
  return best.distance <= allowed ? best.name : undefined;
}
