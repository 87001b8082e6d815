/**
 * Picks the one record of a versioned TXT policy (`v=STSv1;`, `v=TLSRPTv1;`) among the TXT records
 * at its name, the way senders do: only records beginning with the exact version tag count, and
 * exactly one must. A record plainly meant as one (`v=STSv1 ;`, other case) is reported as invalid,
 * not missing: its owner thinks it is deployed.
 */
export type VersionedTxtChoice =
  | { kind: 'missing' }
  | { kind: 'invalid'; problems: string[]; records: string[] }
  | { kind: 'one'; record: string };

export function chooseVersionedTxt(records: readonly string[], versionTag: string, lookalike: RegExp): VersionedTxtChoice {
  const candidates = records.filter((r) => r.startsWith(versionTag));
  if (candidates.length === 0) {
    const lookalikes = records.filter((r) => lookalike.test(r));
    if (lookalikes.length === 0) return { kind: 'missing' };
    return { kind: 'invalid', problems: lookalikes.map((r) => `"${r}" does not begin with "${versionTag}"`), records: lookalikes };
  }
  if (candidates.length > 1) {
    return { kind: 'invalid', problems: [`${candidates.length} records begin with "${versionTag}"; senders need exactly one`], records: candidates };
  }
  return { kind: 'one', record: candidates[0]! };
}
