import { ApiProperty } from '@nestjs/swagger';
import type { SessionInfo } from '../sessions/session-store.js';
import { ACR_VALUES, type Acr, type Amr, AMR_VALUES } from '../tokens/authentication-context.js';

export class SessionDto {
  @ApiProperty({ example: 'kq3Pz0bX2w9mR1tY' })
  id: string;

  @ApiProperty({ description: 'True for the session of the token making this request', example: true })
  current: boolean;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:12:44.000Z' })
  createdAt: string;

  @ApiProperty({ format: 'date-time', description: 'Last login or refresh', example: '2026-11-23T16:40:02.000Z' })
  lastUsedAt: string;

  @ApiProperty({
    format: 'date-time',
    description: 'When the session ends unless refreshed (never after its absolute lifetime)',
    example: '2026-11-30T16:40:02.000Z',
  })
  expiresAt: string;

  @ApiProperty({ example: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' })
  userAgent: string;

  @ApiProperty({ example: '203.0.113.7' })
  ip: string;

  @ApiProperty({
    description: 'How the user last proved who they are in this session (RFC 8176 methods): at login, or by reauthenticating',
    enum: AMR_VALUES,
    isArray: true,
    example: ['pwd'],
  })
  amr: Amr[];

  @ApiProperty({ description: 'What that proof is worth', enum: ACR_VALUES, example: 'urn:tessera:aal1' })
  acr: Acr;

  static from(session: SessionInfo, currentSessionId: string): SessionDto {
    return {
      id: session.id,
      current: session.id === currentSessionId,
      createdAt: new Date(session.createdAt).toISOString(),
      lastUsedAt: new Date(session.lastUsedAt).toISOString(),
      expiresAt: new Date(session.expiresAt).toISOString(),
      userAgent: session.userAgent,
      ip: session.ip,
      amr: session.amr,
      acr: session.acr,
    };
  }
}
