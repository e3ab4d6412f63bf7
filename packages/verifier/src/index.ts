export { TesseraVerifierModule } from './verifier.module.js';
export { TesseraVerifier } from './verifier.service.js';
export { TesseraGuard } from './tessera.guard.js';
export {
  Auth,
  CurrentUser,
  Public,
  RecentAuth,
  Roles,
  IS_PUBLIC,
  RECENT_AUTH,
  REQUIRED_ROLES,
  type RecentAuthRequirement,
} from './decorators.js';
export { TesseraProblem, ProblemFilter } from './problems.js';
export { ACR_AAL1, ACR_AAL2, type Acr, type Amr, type AccessTokenClaims, type AuthenticatedUser } from './claims.js';
export { TESSERA_VERIFIER_OPTIONS, type TesseraVerifierOptions, type TesseraVerifierAsyncOptions, type VerifierLogger } from './options.js';
export type { RevocationEvent } from './revocation-set.js';
