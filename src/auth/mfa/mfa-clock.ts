import { Injectable } from '@nestjs/common';

/**
 * The time codes are checked against: this instance's clock (instances run NTP, as the session
 * model already assumes). A provider of its own so tests can stand at a chosen point of a step
 * instead of racing the 30-s boundaries; nothing in production replaces it, and no caller's time
 * is ever used.
 */
@Injectable()
export class MfaClock {
  now(): number {
    return Date.now();
  }
}
