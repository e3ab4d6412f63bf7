// The peer to beat: a bench-only Nest 12 app on Fastify whose guard does exactly what the NestJS
// documentation's auth guard does (JwtService.verifyAsync per request, no store), with the same
// key and algorithm as Tessera. Plain JS, so decorators are applied as functions.
// Env: PORT, PUBLIC_KEY_FILE (PEM), JWT_ISSUER, JWT_AUDIENCE.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Controller, Get, Inject, Injectable, Module, Req, UnauthorizedException, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { JwtModule, JwtService } from '@nestjs/jwt';
import { FastifyAdapter } from '@nestjs/platform-fastify';

// docs.nestjs.com/security/authentication: "Implementing the authentication guard"
class AuthGuard {
  constructor(jwtService) {
    this.jwtService = jwtService;
  }

  async canActivate(context) {
    const request = context.switchToHttp().getRequest();
    const token = this.extractTokenFromHeader(request);
    if (!token) throw new UnauthorizedException();
    try {
      request.user = await this.jwtService.verifyAsync(token);
    } catch {
      throw new UnauthorizedException();
    }
    return true;
  }

  extractTokenFromHeader(request) {
    const [type, token] = request.headers.authorization?.split(' ') ?? [];
    return type === 'Bearer' ? token : undefined;
  }
}
Injectable()(AuthGuard);
Inject(JwtService)(AuthGuard, undefined, 0);

class UsersController {
  me(request) {
    return { id: request.user.sub, roles: request.user.roles };
  }
}
const me = Object.getOwnPropertyDescriptor(UsersController.prototype, 'me');
Controller('users')(UsersController);
Get('me')(UsersController.prototype, 'me', me);
UseGuards(AuthGuard)(UsersController.prototype, 'me', me);
Req()(UsersController.prototype, 'me', 0);

class PeerModule {}
Module({
  imports: [
    JwtModule.register({
      // A PEM string, as the docs configure it: jsonwebtoken parses it on every verification.
      publicKey: readFileSync(process.env.PUBLIC_KEY_FILE, 'utf8'),
      verifyOptions: { algorithms: ['ES256'], issuer: process.env.JWT_ISSUER, audience: process.env.JWT_AUDIENCE },
    }),
  ],
  controllers: [UsersController],
})(PeerModule);

const app = await NestFactory.create(PeerModule, new FastifyAdapter(), { logger: false });
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
