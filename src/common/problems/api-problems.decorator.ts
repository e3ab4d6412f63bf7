import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ProblemDto } from './problem.schema.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (`validation_failed`, `malformed_json`)',
  401: 'Not authenticated',
  403: 'Not allowed',
  404: 'Not found (`not_found`)',
  409: 'Conflict',
  413: 'Body over 16 KiB (`payload_too_large`)',
  429: 'Rate limited (`rate_limited`, with `Retry-After`)',
  503: 'Redis or the database is unavailable (`service_unavailable`)',
};

/** Documents problem-details responses; `codes` overrides the description per status. */
export function ApiProblems(statuses: number[], codes: Record<number, string> = {}) {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: codes[status] ?? DESCRIPTIONS[status],
        type: ProblemDto,
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDto' } } },
      }),
    ),
  );
}
