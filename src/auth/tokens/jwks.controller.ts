import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../decorators/auth.decorators.js';
import { KeyService } from './key.service.js';

@ApiTags('keys')
@Controller('.well-known')
export class JwksController {
  constructor(private readonly keys: KeyService) {}

  @Public()
  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOperation({
    summary: 'Public keys (JWKS)',
    description: 'Every key that may have signed a live access token, for services that verify them. Match on `kid`; pin `alg`.',
  })
  @ApiOkResponse({
    description: 'RFC 7517 JWK Set',
    schema: {
      example: {
        keys: [
          {
            kty: 'EC',
            crv: 'P-256',
            x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
            y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
            kid: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
            alg: 'ES256',
            use: 'sig',
          },
        ],
      },
    },
  })
  jwks() {
    return this.keys.jwks;
  }
}
