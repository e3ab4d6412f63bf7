import { Module } from '@nestjs/common';
import { MfaClock } from './mfa-clock.js';
import { MfaRepository } from './mfa.repository.js';
import { RecoveryCodeHasher } from './recovery-codes.js';
import { RecoveryCodesService } from './recovery-codes.service.js';
import { SecondFactors } from './second-factors.service.js';
import { TotpService } from './totp.service.js';

/**
 * Second factors (an inner room of auth/, like passwords/): TOTP and recovery codes, below the
 * HTTP layer. Imports only database/, secrets/, config/ and common/ (ServerSecrets, DATABASE and
 * the configuration come from global modules); nothing here knows about sessions or tokens.
 */
@Module({
  providers: [
    MfaRepository,
    MfaClock,
    RecoveryCodeHasher,
    RecoveryCodesService,
    TotpService,
    { provide: SecondFactors, inject: [TotpService], useFactory: (totp: TotpService) => new SecondFactors(totp) },
  ],
  exports: [TotpService, RecoveryCodesService, SecondFactors],
})
export class MfaModule {}
