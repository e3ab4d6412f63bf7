import { Injectable } from '@nestjs/common';
import { SessionService } from '../auth/sessions/session.service.js';
import type { User } from './user.js';
import { UsersService } from './users.service.js';

/** Admin actions that reach across users and sessions. */
@Injectable()
export class AdminUsersService {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionService,
  ) {}

  get(id: string): Promise<User> {
    return this.users.getById(id);
  }

  /** Disabling ends every session of the user at once (after the record says disabled, so a retry is safe). */
  async update(id: string, changes: { disabled?: boolean; roles?: string[] }): Promise<User> {
    const user = await this.users.update(id, changes);
    if (changes.disabled) await this.sessions.revokeAll(id);
    return user;
  }

  async endAllSessions(id: string): Promise<void> {
    await this.users.getById(id);
    await this.sessions.revokeAll(id);
  }
}
