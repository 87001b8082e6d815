import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString } from 'class-validator';
import { ApiResponse } from '@nestjs/swagger';
import { IsDomainName, IsQueryWholeNumber } from './domain-validators.js';
import { NotificationDto } from './responses.dto.js';
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

  @ApiPropertyOptional({ enum: ['opened', 'resolved', 'test', 'change'] })
  @IsOptional()
  @IsIn(['opened', 'resolved', 'test', 'change'], { message: 'event must be opened, resolved, test or change' })
  event?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsQueryWholeNumber(1, 1000)
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
  @ApiResponse({ status: 200, type: [NotificationDto] })
  async list(@Query() q: NotificationsQueryDto) {
    return (await this.notifications.list(q)).map(notificationToDto);
  }

  @Post(':id/retry')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Send a failed notification again, with a fresh retry window; delivery runs in the background' })
  @ApiOkResponse({ type: NotificationDto, description: 'the notification, pending again' })
  @ApiNotFoundResponse({ description: 'no such notification' })
  @ApiConflictResponse({ description: 'the notification is not failed (already delivered, or still being retried), or its channel is gone' })
  async retry(@Param('id') id: string) {
    return notificationToDto(await this.notifications.retry(id));
  }

  @Post('test')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Send a test notification to every channel (or one) and report the outcome' })
  @ApiResponse({ status: 200, type: [NotificationDto] })
  async test(@Body() body: TestNotificationDto) {
    return (await this.notifications.sendTest(body)).map(notificationToDto);
  }
}
