import { Injectable } from '@nestjs/common';
import { MetricsRegistry } from './metrics.registry.js';

/** What the auth services report; a thin face over the registry so services stay testable. */
@Injectable()
export class AuthMetrics {
  constructor(private readonly metrics: MetricsRegistry) {}

  loginSucceeded(): void {
    this.metrics.logins.inc({ result: 'success' });
  }

  loginFailed(): void {
    this.metrics.logins.inc({ result: 'failure' });
  }

  refreshed(result: 'rotated' | 'grace' | 'reused' | 'invalid'): void {
    this.metrics.refreshes.inc({ result });
  }
}
