import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { IsDomainName } from './domain-validators.js';
import { notificationToDto, NotificationsService } from '../notifications/notifications.service.js';

export class NotificationsQueryDto {
  @ApiPropertyOptional({ enum: ['pending', 'sent', 'failed'] })
  @IsOptional()
  @IsIn(['pending', 'sent', 'failed'], { message: 'status must be pending, sent or failed' })
  status?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  channel?: string;

  @ApiPropertyOptional({ enum: ['opened', 'resolved', 'test'] })
  @IsOptional()
  @IsIn(['opened', 'resolved', 'test'], { message: 'event must be opened, resolved or test' })
  event?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be a whole number' })
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class TestNotificationDto {
  @ApiPropertyOptional({ description: 'only this channel (by name); default every channel' })
  @IsOptional()
  @IsString()
  channel?: string;

  @ApiPropertyOptional({ description: 'domain named in the test message', example: 'example.com' })
  @IsOptional()
  @IsDomainName()
  domain?: string;
}

@ApiTags('notifications')
@Controller('notifications')
export class NotificationsController {
  constructor(private readonly notifications: NotificationsService) {}

  @Get()
  @ApiOperation({ summary: 'Notifications with every delivery attempt, newest first' })
  async list(@Query() q: NotificationsQueryDto) {
    return (await this.notifications.list(q)).map(notificationToDto);
  }

  @Post('test')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Send a test notification to every channel (or one) and report the outcome' })
  async test(@Body() body: TestNotificationDto) {
    return (await this.notifications.sendTest(body)).map(notificationToDto);
  }
}
