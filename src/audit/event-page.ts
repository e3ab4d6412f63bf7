import { SecurityEventDto, type SecurityEventPageDto } from './dto/security-event.dto.js';
import type { EventPage } from './security-events.service.js';

/** Events per page when the query names no limit. */
export const DEFAULT_EVENT_PAGE_LIMIT = 50;

/** A page of security events as the API answers it (admin and per-user routes alike). */
export const toEventPageDto = (page: EventPage): SecurityEventPageDto => ({
  items: page.items.map((event) => SecurityEventDto.from(event)),
  nextCursor: page.nextCursor,
});
