import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AllowWithoutSecondFactor, Auth, type AuthenticatedUser, CurrentUser } from '../auth/decorators/auth.decorators.js';
import { AccountUserDto } from './dto/user.dto.js';
import { UsersService } from './users.service.js';

@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Auth()
  @AllowWithoutSecondFactor()
  @Get('me')
  @ApiOperation({ summary: 'The current user' })
  @ApiOkResponse({ type: AccountUserDto })
  async me(@CurrentUser() principal: AuthenticatedUser): Promise<AccountUserDto> {
    return AccountUserDto.from(await this.users.getById(principal.id));
  }
}
