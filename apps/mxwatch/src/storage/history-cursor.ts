/** Opaque keyset cursor: the (startedAt, id) of the last row of a page. */
export function encodeCursor(startedAt: Date, id: bigint): string {
  return Buffer.from(`${startedAt.toISOString()}|${id.toString()}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { startedAt: Date; id: bigint } | null {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|(\d{1,19})$/.exec(text);
  if (!m) return null;
  const startedAt = new Date(m[1]!);
  if (Number.isNaN(startedAt.getTime())) return null;
  const id = BigInt(m[2]!);
  // ids are PostgreSQL bigints: a larger one would reach the database and fail there (500).
  if (id > 9223372036854775807n) return null;
  return { startedAt, id };
}
