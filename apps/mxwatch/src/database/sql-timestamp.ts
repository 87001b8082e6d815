/**
 * A DateTime column's text form as Prisma writes it: UTC, no zone, milliseconds (`timestamp(3)`),
 * for raw statements that pass times inside JSON or cast them with `::timestamp(3)`.
 */
export function sqlTimestamp(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** The time a `timestamp` column's text names (`sqlTimestamp`'s form, or JSON's with a `T`): UTC, as Prisma reads it. */
export function fromSqlTimestamp(text: string): Date {
  return new Date(`${text.replace(' ', 'T')}Z`);
}
