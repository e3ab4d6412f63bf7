import { Body, Controller, Header, HttpCode, HttpStatus, Post, Req } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import {
  Auth,
  type AuthenticatedUser,
  CurrentUser,
  OptionalAuth,
  OptionalUser,
  Public,
  RecentAuth,
} from '../auth/decorators/auth.decorators.js';
import { RegisterDto } from '../auth/dto/credentials.dto.js';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { Problems } from '../common/problems/problem.js';
import { RateLimit } from '../throttling/rate-limit.js';
import { UserDto } from '../users/dto/user.dto.js';
import { accountRequest } from './account-links.js';
import { AccountsService } from './accounts.service.js';
import { ChangeEmailDto, EmailAddressDto, ResetPasswordDto, VerificationRequestDto, VerifyEmailDto } from './dto/accounts.dto.js';
import { EmailChangeService } from './email-change.service.js';
import { EmailVerificationService } from './email-verification.service.js';
import { PasswordResetService } from './password-reset.service.js';

const SAME_ANSWER =
  'The answer is the same whether or not the address has an account, and comes at about the same time: the mail is only queued, ' +
  'and only for an existing, enabled account.';

/** The account lifecycle: registration, verifying an address, forgotten passwords, changing the address. */
@ApiTags('auth')
@Controller('auth')
export class AccountsController {
  constructor(
    private readonly accounts: AccountsService,
    private readonly verification: EmailVerificationService,
    private readonly resets: PasswordResetService,
    private readonly emailChange: EmailChangeService,
  ) {}

  @Public()
  @RateLimit('register')
  @Post('register')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Create an account',
    description:
      'Emails are trimmed and lower-cased. The password must pass the password policy (see `password`); a refusal is 400 ' +
      '`weak_password` naming `password`. Also mails a verification link to the address (`POST /auth/email/verify`); the ' +
      'account starts unverified.',
  })
  @ApiCreatedResponse({ type: UserDto })
  @ApiProblems([400, 409, 413, 503], {
    400: 'Invalid body (`validation_failed`), or a password the policy refuses (`weak_password`)',
    409: 'An account with this email exists (`email_taken`)',
    503: 'Too many passwords being hashed right now, or a backing service is down (`service_unavailable`, with `Retry-After`)',
  })
  async register(@Body() body: RegisterDto, @Req() request: FastifyRequest): Promise<UserDto> {
    return UserDto.from(await this.accounts.register(body.email, body.password, accountRequest(request)));
  }

  @OptionalAuth()
  @RateLimit('mail')
  @Post('email/verification')
  // Tokens or personal data travel here: not for any cache.
  @Header('Cache-Control', 'no-store')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Send a new verification link',
    description:
      'With a Bearer token: to the caller’s own address. Without one: to `email`. A new link replaces the earlier ones, which stop ' +
      'working. Nothing is sent for a verified, disabled or unknown account, nor beyond MAIL_ACCOUNT_LIMIT mails per address per ' +
      `MAIL_ACCOUNT_WINDOW; the answer is 202 alike. ${SAME_ANSWER}`,
  })
  @ApiBody({
    type: VerificationRequestDto,
    required: false,
    examples: {
      anonymous: { summary: 'Without a Bearer token', value: { email: 'ada@example.com' } },
      bearer: { summary: 'With a Bearer token: no body needed', value: {} },
    },
  })
  @ApiAcceptedResponse({ description: 'Accepted: a link is on its way if the account exists and is unverified' })
  @ApiProblems([400, 413, 503], { 400: 'No Bearer token and no valid `email` (`validation_failed`)' })
  async requestVerification(
    @Body() body: VerificationRequestDto,
    @OptionalUser() user: AuthenticatedUser | undefined,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    if (user) return this.verification.requestForUser(user.id, accountRequest(request));
    if (body.email === undefined) throw Problems.validation([{ field: 'email', message: 'email is required without a Bearer token' }]);
    await this.verification.requestForEmail(body.email, accountRequest(request));
  }

  @Public()
  @RateLimit('public')
  @Post('email/verify')
  // Tokens or personal data travel here: not for any cache.
  @Header('Cache-Control', 'no-store')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Use a link from a mail: verify an address, or confirm an email change',
    description:
      'The token of a verification link marks the address verified; the token of an email-change link moves the account to the ' +
      'new address (verified). Each link works once, and only the newest of its kind.',
  })
  @ApiNoContentResponse({ description: 'Verified (or the address changed)' })
  @ApiProblems([400, 409, 413, 503], {
    400: 'The link is unknown, used, expired or replaced (`link_invalid`), or the body is invalid (`validation_failed`)',
    409: 'Email change only: another account took the new address meanwhile (`email_taken`); the link is not used up',
  })
  async verifyEmail(@Body() body: VerifyEmailDto, @Req() request: FastifyRequest): Promise<void> {
    await this.verification.verify(body.token, accountRequest(request));
  }

  @Public()
  @RateLimit('mail')
  @Post('password/forgot')
  // Tokens or personal data travel here: not for any cache.
  @Header('Cache-Control', 'no-store')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Forgot password: mail a reset link',
    description:
      `A link to \`/reset-password?token=…\` (valid PASSWORD_RESET_TTL) goes to the address. ${SAME_ANSWER} ` +
      'At most MAIL_ACCOUNT_LIMIT per address per MAIL_ACCOUNT_WINDOW; beyond it the answer is still 202.',
  })
  @ApiAcceptedResponse({ description: 'Accepted: a link is on its way if the account exists' })
  @ApiProblems([400, 413, 503])
  async forgotPassword(@Body() body: EmailAddressDto, @Req() request: FastifyRequest): Promise<void> {
    await this.resets.forgot(body.email, accountRequest(request));
  }

  @Public()
  @RateLimit('public')
  @Post('password/reset')
  // Tokens or personal data travel here: not for any cache.
  @Header('Cache-Control', 'no-store')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Set a new password with a reset link',
    description:
      'Works once, and only the newest link. Ends every session of the user and marks the address verified. A refused new ' +
      'password (`weak_password`) does not use the link up.',
  })
  @ApiNoContentResponse({ description: 'Password changed; every session of the user has ended' })
  @ApiProblems([400, 413, 503], {
    400: 'The link is unknown, used, expired or replaced (`link_invalid`), the new password is refused (`weak_password`), or the body is invalid (`validation_failed`)',
  })
  async resetPassword(@Body() body: ResetPasswordDto, @Req() request: FastifyRequest): Promise<void> {
    await this.resets.reset(body.token, body.newPassword, accountRequest(request));
  }

  @RecentAuth()
  @Auth()
  @RateLimit('email-change')
  @Post('email/change')
  // Tokens or personal data travel here: not for any cache.
  @Header('Cache-Control', 'no-store')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Change the email address',
    description:
      'Mails a confirmation link to the new address and a notice to the current one. The address changes when the link is used ' +
      '(`POST /auth/email/verify`). Needs a recent authentication (REAUTH_MAX_AGE): a login or `POST /auth/reauthenticate` made ' +
      'shortly before.',
  })
  @ApiAcceptedResponse({ description: 'Accepted: the confirmation link is on its way to the new address' })
  @ApiProblems([400, 409, 413, 429], {
    400: 'Invalid body, `currentPassword` is incorrect, or `newEmail` is the current address (`validation_failed`)',
    409: 'Another account has the new address (`email_taken`)',
    429: 'Too many requests from this client, or too many confirmation mails to that address lately (`rate_limited`, with `Retry-After`)',
  })
  async changeEmail(@CurrentUser() user: AuthenticatedUser, @Body() body: ChangeEmailDto, @Req() request: FastifyRequest): Promise<void> {
    await this.emailChange.request(user, body.newEmail, body.currentPassword, accountRequest(request));
  }
}
