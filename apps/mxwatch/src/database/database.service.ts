import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { AppLogger } from '../common/app-logger.js';
import type { DirectSql } from './direct-sql.js';
import { openDatabase, type Database, type Db } from './open-database.js';

/** Owns the one database connection (pool or embedded PGlite) of the process. */
@Injectable()
export class DatabaseService implements OnApplicationShutdown {
  private constructor(private readonly handle: Database) {}

  static async open(config: AppConfig, logger: AppLogger): Promise<DatabaseService> {
    const started = Date.now();
    const handle = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      log: (msg: string) => logger.log(msg, 'Database'),
    });
    logger.log(`database ready (${handle.kind}) in ${Date.now() - started} ms`, 'Database');
    return new DatabaseService(handle);
  }

  /** Wraps a database opened elsewhere (tests, tools); the caller closes it. */
  static over(handle: Database): DatabaseService {
    return new DatabaseService(handle);
  }

  /** A statement straight to the driver, past Prisma's engine: for the statements every check runs. */
  get sql(): DirectSql {
    return this.handle.sql;
  }

  get prisma(): Db {
    return this.handle.prisma;
  }

  get kind(): 'postgres' | 'pglite' {
    return this.handle.kind;
  }

  ping(): Promise<void> {
    return this.handle.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.handle.close();
  }
}

/** Lets the rest of the code inject DatabaseService without knowing it is created asynchronously. */
export const databaseProvider = {
  provide: DatabaseService,
  inject: [APP_CONFIG, AppLogger],
  useFactory: (config: AppConfig, logger: AppLogger) => DatabaseService.open(config, logger),
};
