import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Public } from '../auth/decorators/auth.decorators.js';
import { DATABASE_HANDLE, type DatabaseHandle } from '../database/database.js';
import { REDIS } from '../redis/redis.module.js';
import type { RedisService } from '../redis/redis.service.js';

const CHECK_TIMEOUT_MS = 1500;

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(DATABASE_HANDLE) private readonly database: DatabaseHandle,
    @Optional() @Inject(REDIS) private readonly redis: RedisService | null,
  ) {}

  /** Liveness: the process answers. Never depends on Redis or the database. */
  @Public()
  @Get('live')
  @ApiOperation({ summary: 'Liveness', description: '200 while the process runs; never checks dependencies.' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Public()
  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness', description: '503 while Redis or the database is unreachable.' })
  ready() {
    return this.health.check([
      () =>
        this.indicators
          .check('database')
          .attempt(async () => {
            await this.database.ping();
            return { driver: this.database.kind };
          })
          .withTimeout(CHECK_TIMEOUT_MS),
      () =>
        this.indicators
          .check('redis')
          .attempt(async () => {
            if (this.redis) await this.redis.ping();
            return { store: this.redis ? 'redis' : 'memory' };
          })
          .withTimeout(CHECK_TIMEOUT_MS),
    ]);
  }
}
