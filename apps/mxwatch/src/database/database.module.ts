import { Global, Module } from '@nestjs/common';
import { databaseProvider, DatabaseService } from './database.service.js';

@Global()
@Module({ providers: [databaseProvider], exports: [DatabaseService] })
export class DatabaseModule {}
