import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Post, Req } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { clientInfo } from './client-info.js';
import { AllowWithoutSecondFactor, Auth, CurrentUser, RecentAuth } from './decorators/auth.decorators.js';
import { ConfirmTotpDto } from './dto/credentials.dto.js';
import { MfaService } from './mfa.service.js';
import type { AuthenticatedUser } from './tokens/access-token.js';
import { ACR_AAL2 } from './tokens/authentication-context.js';

class MfaStatusDto {
  @ApiProperty({ description: 'A confirmed authenticator app: password logins ask for a code', example: true })
  totp: boolean;

  @ApiProperty({ description: 'Unused recovery codes', example: 10 })
  recoveryCodesLeft: number;
}

class TotpEnrolmentDto {
  @ApiProperty({ description: 'Base32 secret, for typing into the app by hand; shown once', example: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' })
  secret: string;

  @ApiProperty({
    description: 'The same secret as an `otpauth://` URI, for a QR code',
    example:
      'otpauth://totp/Tessera:ada%40example.com?issuer=Tessera&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30',
  })
  otpauthUri: string;
}

class RecoveryCodesDto {
  @ApiProperty({
    description: '10 single-use codes, shown only in this answer: keep them somewhere safe',
    example: ['7K3M-Q9TX-2HNB', 'XW4P-8RDC-M1ZE'],
    type: [String],
  })
  recoveryCodes: string[];
}

const RECENT = 'Needs a recent authentication (REAUTH_MAX_AGE)';
const RECENT_AAL2 = 'Needs a recent authentication with two factors (password and code): POST /auth/reauthenticate `{password, code}`';

/** The caller's own second factors. Policy in MfaService; the guards decide how fresh and strong the caller's proof must be. */
@ApiTags('mfa')
@Controller('auth/mfa')
export class MfaController {
  constructor(private readonly mfa: MfaService) {}

  @Auth()
  @AllowWithoutSecondFactor()
  @Get()
  @ApiOperation({ summary: 'Second factors of the current user' })
  @ApiOkResponse({ type: MfaStatusDto })
  status(@CurrentUser() user: AuthenticatedUser): Promise<MfaStatusDto> {
    return this.mfa.status(user.id);
  }

  @RecentAuth()
  @AllowWithoutSecondFactor()
  @Post('totp')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Start setting up an authenticator app (TOTP)',
    description:
      `${RECENT}. Answers a new secret (SHA-1, 6 digits, 30 s) as text and as an otpauth URI for a QR code; it is pending until ` +
      'confirmed with a first code, and a new enrolment replaces a pending one.',
  })
  @ApiOkResponse({ type: TotpEnrolmentDto })
  @ApiProblems([409], { 409: 'An authenticator app is already confirmed; remove it first (`mfa_already_enabled`)' })
  enrol(@CurrentUser() user: AuthenticatedUser): Promise<TotpEnrolmentDto> {
    return this.mfa.enrolTotp(user);
  }

  @Auth()
  @AllowWithoutSecondFactor()
  @Post('totp/confirm')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Confirm the authenticator app with its current code',
    description:
      'Turns the pending secret into the account’s second factor and answers 10 recovery codes, once. From now on a password ' +
      'login asks for a code (POST /auth/login answers `mfaRequired`). Recorded as `mfa.enabled`.',
  })
  @ApiOkResponse({ type: RecoveryCodesDto })
  @ApiProblems([400, 409], {
    400: 'Invalid body (`validation_failed`), or the code is wrong or expired (`mfa_code_invalid`)',
    409: 'Nothing pending (`mfa_not_enrolling`) or already confirmed (`mfa_already_enabled`)',
  })
  confirm(@CurrentUser() user: AuthenticatedUser, @Body() body: ConfirmTotpDto, @Req() request: FastifyRequest): Promise<RecoveryCodesDto> {
    return this.mfa.confirmTotp(user, body.code, clientInfo(request));
  }

  @RecentAuth(undefined, { acr: ACR_AAL2 })
  @Delete('totp')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Remove the authenticator app',
    description: `${RECENT_AAL2}. Removes the factor and every recovery code; password logins stop asking for a code. Recorded as \`mfa.disabled\`.`,
  })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiProblems([409], { 409: 'No authenticator app is set up (`mfa_not_enabled`)' })
  async disable(@CurrentUser() user: AuthenticatedUser, @Req() request: FastifyRequest): Promise<void> {
    await this.mfa.disableTotp(user, clientInfo(request));
  }

  @RecentAuth(undefined, { acr: ACR_AAL2 })
  @Post('recovery-codes')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'New recovery codes',
    description: `${RECENT_AAL2}. Answers 10 new codes, once; every earlier code stops working.`,
  })
  @ApiOkResponse({ type: RecoveryCodesDto })
  @ApiProblems([409], { 409: 'No authenticator app is set up (`mfa_not_enabled`)' })
  async regenerate(@CurrentUser() user: AuthenticatedUser): Promise<RecoveryCodesDto> {
    return { recoveryCodes: await this.mfa.regenerateRecoveryCodes(user) };
  }
}
