import { timingSafeEqual } from 'node:crypto';
import { Controller, Get, Header, Inject, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { ConfigType } from '@nestjs/config';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/decorators/auth.decorators.js';
import { Problems } from '../common/problems/problem.js';
import { appConfig } from '../config/configuration.js';
import { MetricsRegistry } from './metrics.registry.js';

/** Prometheus scrape endpoint; when METRICS_TOKEN is set, it wants that Bearer token. */
@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsRegistry,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {}

  @Public()
  @Get()
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'Request counts and latency, logins and refreshes, process metrics. Wants `Authorization: Bearer <METRICS_TOKEN>` when that is set.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text format', schema: { type: 'string', example: 'tessera_logins_total{result="success"} 3' } })
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(@Req() request: FastifyRequest): Promise<string> {
    // Production serves metrics only behind METRICS_TOKEN: as if the route did not exist.
    if (!this.app.metrics) throw Problems.notFound('Cannot GET /metrics');
    const authorization = request.headers.authorization;
    const expected = this.app.metricsToken;
    if (expected !== undefined) {
      const given = Buffer.from(authorization ?? '');
      const wanted = Buffer.from(`Bearer ${expected}`);
      if (!authorization) throw Problems.missingToken();
      if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw Problems.invalidToken('The metrics token is not right');
    }
    return this.metrics.registry.metrics();
  }
}
