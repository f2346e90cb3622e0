import type { Kysely } from 'kysely'
import type { Engine } from '../core/db/index.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/log.ts'
import type { PolicyEngine } from '../core/policy.ts'
import type { IdentitySchema } from './schema.ts'
import type { Revocations } from './revocations.ts'

/** Identity settings; names follow keystone.conf where one exists. */
export interface IdentityConfig {
  /** [token] expiration, seconds. */
  tokenExpiration: number
  /** [security_compliance] lockout_failure_attempts (0: off) and lockout_duration (seconds). */
  lockoutFailureAttempts: number
  lockoutDuration: number
  /** [security_compliance] unique_last_password_count (0/1: off) and minimum_password_age (days). */
  uniqueLastPasswordCount: number
  minimumPasswordAge: number
  /** [security_compliance] password_expires_days (0: never). */
  passwordExpiresDays: number
  /** scrypt cost (N); tests lower it to stay fast. */
  scryptCost: number
}

export const defaultIdentityConfig: IdentityConfig = {
  tokenExpiration: 3600,
  lockoutFailureAttempts: 0,
  lockoutDuration: 1800,
  uniqueLastPasswordCount: 0,
  minimumPasswordAge: 0,
  passwordExpiresDays: 0,
  scryptCost: 16384,
}

/** What every identity module is built from. */
export interface IdentityCtx {
  db: Kysely<IdentitySchema>
  engine: Engine
  clock: Clock
  config: IdentityConfig
  policy: PolicyEngine
  log: Logger
  /** Token revocation events (a revoked token, a disabled user, a deleted project…). */
  revocations: Revocations
  /**
   * Call after any write that can change what a token grants (roles, assignments, users,
   * projects, domains, catalog). Cached token validations and catalogs key on `generation`.
   */
  changed(): void
  readonly generation: number
}
