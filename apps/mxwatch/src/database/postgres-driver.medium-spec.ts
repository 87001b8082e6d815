import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PG_ADMIN_URL } from '../../../../test/support/postgres.js';
import { CatalogTolerantClient, createPostgresPool, parsePostgresUrl } from './postgres-driver.js';

describe(parsePostgresUrl.name, () => {
  it('should report host, port and database without the password', () => {
    const location = parsePostgresUrl('postgresql://mx:s3cret@db.internal:6432/mxwatch?sslmode=require');

    expect(location).toEqual({
      endpoint: 'db.internal:6432',
      database: 'mxwatch',
      redactedUrl: 'postgresql://mx:***@db.internal:6432/mxwatch?sslmode=require',
    });
  });

  it('should default the port and read a socket host from the query string', () => {
    expect(parsePostgresUrl('postgres://u@localhost/db').endpoint).toBe('localhost:5432');
    expect(parsePostgresUrl('postgresql:///db?host=/run/postgresql').endpoint).toBe('/run/postgresql:5432');
  });

  it('should reject what is not a PostgreSQL URL', () => {
    expect(() => parsePostgresUrl('db.internal:5432')).toThrow(/must start with postgresql:\/\//);
    expect(() => parsePostgresUrl('not a url')).toThrow(/not a valid URL/);
    expect(() => parsePostgresUrl('mysql://u@h/db')).toThrow(/must start with postgresql:\/\//);
  });
});

describe(CatalogTolerantClient.name, () => {
  const catalogQuery = {
    sql: `SELECT c.relkind, c.relname FROM pg_class c WHERE c.relname = 'pg_class'`,
    args: [],
    argTypes: [],
  };

  it('should let adapter-pg read the "char" columns of the catalog', async () => {
    const pool = createPostgresPool(PG_ADMIN_URL, { max: 1 });
    const adapter = await new PrismaPg(pool).connect();
    try {
      const result = await adapter.queryRaw(catalogQuery);

      expect(result.rows).toEqual([['r', 'pg_class']]);
    } finally {
      await adapter.dispose();
      await pool.end();
    }
  });

  it('should be needed: a stock pool cannot read them', async () => {
    const pool = new pg.Pool({ connectionString: PG_ADMIN_URL, max: 1 });
    const adapter = await new PrismaPg(pool).connect();
    try {
      await expect(adapter.queryRaw(catalogQuery)).rejects.toThrow();
    } finally {
      await adapter.dispose();
      await pool.end();
    }
  });
});
