import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, type AuthenticatedUser, CurrentUser } from '../auth/decorators/auth.decorators.js';
import { UserDto } from './dto/user.dto.js';
import { UsersService } from './users.service.js';

@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Auth()
  @Get('me')
  @ApiOperation({ summary: 'The current user' })
  @ApiOkResponse({ type: UserDto })
  async me(@CurrentUser() principal: AuthenticatedUser): Promise<UserDto> {
    return UserDto.from(await this.users.getById(principal.id));
  }
}
