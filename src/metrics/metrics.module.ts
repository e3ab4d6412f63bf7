import { Global, Module } from '@nestjs/common';
import { AuthMetrics } from './auth-metrics.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsRegistry } from './metrics.registry.js';

@Global()
@Module({
  controllers: [MetricsController],
  providers: [{ provide: MetricsRegistry, useFactory: () => new MetricsRegistry() }, AuthMetrics],
  exports: [MetricsRegistry, AuthMetrics],
})
export class MetricsModule {}
