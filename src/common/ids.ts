import { ParseUUIDPipe } from '@nestjs/common';
import { Problems } from './problems/problem.js';

/** A UUID as Postgres writes it (lower case, with hyphens). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const isUuid = (value: string): boolean => UUID.test(value);

/** A route parameter that must be a UUID; anything else is a 400 naming the parameter. */
export const uuidParam = (field: string) =>
  new ParseUUIDPipe({ exceptionFactory: () => Problems.validation([{ field, message: `${field} must be a UUID` }]) });
