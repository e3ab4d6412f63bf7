import { Module } from '@nestjs/common';
import { PasswordPolicy } from './password-policy.js';
import { PasswordService } from './password.service.js';

@Module({ providers: [PasswordService, PasswordPolicy], exports: [PasswordService, PasswordPolicy] })
export class PasswordsModule {}
