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

/** `MXWATCH_DNS_SERVERS` → MXWATCH, DNS, SERVERS; `dnsblDnsServers` → DNSBL, DNS, SERVERS. */
function wordsOf(name: string): Set<string> {
  return new Set(name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase().split('_').filter(Boolean));
}

/**
 * The known name closest to `name`, when it is close enough to be a slip (a missing S, a swapped
 * letter, a dropped word) rather than a different setting. Case is ignored. Among the close
 * ones, a name that has every word of `name` wins over a merely shorter edit:
 * `MXWATCH_DNSBL_PROTOCOL` means `MXWATCH_DNSBL_DNS_PROTOCOL`, not `MXWATCH_DNS_PROTOCOL`.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  // The shared prefix says nothing about which setting was meant: compare what follows it.
  const bare = (s: string) => s.toUpperCase().replace(/^MXWATCH_/, '');
  const wanted = bare(name);
  const words = wordsOf(name.replace(/^MXWATCH_/i, ''));
  const close = known
    .map((candidate) => {
      const theirs = wordsOf(candidate.replace(/^MXWATCH_/i, ''));
      const hasEveryWord = [...words].every((w) => theirs.has(w));
      const distance = editDistance(wanted, bare(candidate));
      const allowed = Math.max(1, Math.floor(Math.min(wanted.length, bare(candidate).length) / 4));
      // One word left out (`DNSBL_SERVERS` for `DNSBL_DNS_SERVERS`) is a slip whatever its length.
      return { candidate, distance, hasEveryWord, ok: distance <= allowed || (hasEveryWord && theirs.size - words.size === 1) };
    })
    .filter((c) => c.ok)
    .sort((a, b) => Number(b.hasEveryWord) - Number(a.hasEveryWord) || a.distance - b.distance);
  return close[0]?.candidate;
}
