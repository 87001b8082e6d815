import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { DatabaseService } from '../database/database.service.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly db: DatabaseService) {}

  @Get('live')
  @ApiOkResponse({ description: 'the process is up' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOkResponse({ description: 'the database answers' })
  @ApiServiceUnavailableResponse({ description: 'the database does not answer' })
  async ready(): Promise<{ status: 'ok'; database: string }> {
    try {
      await this.db.ping();
    } catch (e) {
      throw new ServiceUnavailableException({ status: 'unavailable', database: this.db.kind, error: (e as Error).message });
    }
    return { status: 'ok', database: this.db.kind };
  }
}
