import type { Kysely, Transaction } from 'kysely'
import { CloudError, badRequest } from '../core/errors.ts'
import type { IdentityCtx, IdentityConfig } from './context.ts'
import { hashPassword, verifyPassword } from './passwords.ts'
import type { IdentitySchema, UserRow } from './schema.ts'
import { notFoundError, parseJson } from './api/common.ts'

// Users' data rules shared by the users and groups APIs: resource options, passwords with
// Keystone's [security_compliance] rules (history, minimum age, expiry, lockout) and the
// clean-up a deleted user needs. Handlers validate shapes; this file enforces meaning.

type Db = Kysely<IdentitySchema> | Transaction<IdentitySchema>

/** Keystone's user resource options (keystone/identity/backends/resource_options.py). */
export const USER_OPTION_NAMES = [
  'ignore_change_password_upon_first_use', 'ignore_password_expiry', 'ignore_lockout_failure_attempts',
  'lock_password', 'ignore_user_inactivity', 'multi_factor_auth_rules', 'multi_factor_auth_enabled',
] as const

/**
 * Kept in the options JSON next to the real options, never shown: whether the current
 * password was set by the user (self-service) rather than by an administrator. Keystone
 * keeps this per password (password.self_service); the minimum password age applies only
 * to self-service passwords, so an administrator's reset can be changed at once.
 */
const SELF_SERVICE = '_self_service_password'

const DAY_MS = 86_400_000

/** The options a client sees: registered names only. */
export function publicOptions(row: Pick<UserRow, 'options'>): Record<string, unknown> {
  const all = parseJson(row.options)
  const out: Record<string, unknown> = {}
  for (const name of USER_OPTION_NAMES) if (all[name] !== undefined && all[name] !== null) out[name] = all[name]
  return out
}

/** Applies a client's options on top of the stored ones; null removes an option. */
export function mergeOptions(stored: string, given: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = parseJson(stored)
  for (const [k, v] of Object.entries(given ?? {})) {
    if (v === null) delete out[k]
    else out[k] = v
  }
  return out
}

/** A user row or Keystone's 404. */
export async function getUser(db: Db, id: string): Promise<UserRow> {
  const u = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
  if (!u) throw notFoundError('user', id)
  return u
}

/** The domain must exist (404 otherwise), as Keystone checks on create. */
export async function assertDomain(db: Db, id: string): Promise<void> {
  const d = await db.selectFrom('domains').select('id').where('id', '=', id).executeTakeFirst()
  if (!d) throw notFoundError('domain', id)
}

/** A user's default project may not be a domain; an unknown project is accepted (Keystone). */
export async function assertDefaultProject(db: Db, projectId: string | null | undefined): Promise<void> {
  if (!projectId) return
  const p = await db.selectFrom('projects').select('is_domain').where('id', '=', projectId).executeTakeFirst()
  if (p && p.is_domain) throw badRequest(`User's default project ID cannot be a domain ID: ${projectId}`)
}

/** The columns a new password sets; hashed here, outside any transaction (scrypt is slow). */
export interface NewPassword {
  password_hash: string | null
  password_created_at: string
  password_expires_at: string | null
}

export async function newPassword(c: IdentityCtx, password: string | null, options: Record<string, unknown>): Promise<NewPassword> {
  const now = c.clock.now()
  const days = c.config.passwordExpiresDays
  // Keystone drops the microseconds of the expiry; we drop the milliseconds.
  const expires = days > 0 && options.ignore_password_expiry !== true
    ? new Date(Math.floor((now + days * DAY_MS) / 1000) * 1000).toISOString() : null
  return {
    password_hash: password === null ? null : await hashPassword(password, c.config.scryptCost),
    password_created_at: new Date(now).toISOString(),
    password_expires_at: expires,
  }
}

/**
 * Records a password just written to the user row in the history, and trims the history
 * as Keystone does (it keeps the last unique_last_password_count passwords, at least one,
 * plus the new one).
 */
export async function recordPassword(db: Db, cfg: IdentityConfig, userId: string, pw: NewPassword): Promise<void> {
  if (pw.password_hash === null) return
  await db.insertInto('password_history').values({ user_id: userId, password_hash: pw.password_hash,
    created_at: pw.password_created_at }).execute()
  const keep = Math.max(cfg.uniqueLastPasswordCount, 1) + 1
  const rows = await db.selectFrom('password_history').select('id').where('user_id', '=', userId)
    .orderBy('id', 'desc').execute()
  const old = rows.slice(keep).map((r) => Number(r.id))
  if (old.length > 0) await db.deleteFrom('password_history').where('id', 'in', old).execute()
}

/** The options JSON to store with a new password (marks who set it). */
export function withSelfService(options: Record<string, unknown>, selfService: boolean): string {
  const out = { ...options }
  if (selfService) out[SELF_SERVICE] = true
  else delete out[SELF_SERVICE]
  return JSON.stringify(out)
}

/** Whether failed attempts lock this user now (Keystone's _is_account_locked). */
export function isLocked(cfg: IdentityConfig, u: UserRow, now: number): boolean {
  if (cfg.lockoutFailureAttempts <= 0 || u.failed_auth_count < cfg.lockoutFailureAttempts) return false
  if (parseJson(u.options).ignore_lockout_failure_attempts === true) return false
  if (cfg.lockoutDuration <= 0) return true
  return !!u.failed_auth_at && Date.parse(u.failed_auth_at) + cfg.lockoutDuration * 1000 > now
}

const badCredentials = () => new CloudError('Unauthorized', 'Error when changing user password: Invalid user / password')

/**
 * Self-service password change (`POST /v3/users/{id}/password`), in Keystone's order:
 * authenticate with the original password (lockout, failed-attempt counting, disabled
 * user; an expired password may still be changed), then lock_password, minimum age and
 * history, then the new password. The user's tokens are revoked.
 */
export async function changePassword(c: IdentityCtx, userId: string, original: string, next: string): Promise<void> {
  const cfg = c.config
  const now = c.clock.now()
  const u = await c.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst()
  if (!u) throw badCredentials()
  if (isLocked(cfg, u, now)) throw new CloudError('Unauthorized', `The account is locked for user: ${u.id}.`)
  if (!(await verifyPassword(original, u.password_hash))) {
    if (cfg.lockoutFailureAttempts > 0) {
      // A count whose lockout window has passed starts again (as auth-service.ts does).
      const stale = !!u.failed_auth_at && cfg.lockoutDuration > 0 &&
        Date.parse(u.failed_auth_at) + cfg.lockoutDuration * 1000 <= now
      await c.db.updateTable('users').set({ failed_auth_count: stale ? 1 : u.failed_auth_count + 1,
        failed_auth_at: new Date(now).toISOString() }).where('id', '=', u.id).execute()
    }
    throw badCredentials()
  }
  if (!u.enabled) throw new CloudError('Unauthorized', `The account is disabled for user: ${u.id}.`)
  await c.db.updateTable('users').set({ failed_auth_count: 0, failed_auth_at: null, last_active_at: new Date(now).toISOString() })
    .where('id', '=', u.id).execute()

  const options = parseJson(u.options)
  if (options.lock_password === true) {
    throw badRequest('You cannot change your password at this time due to password policy disallowing password ' +
      'changes. Please contact your administrator to reset your password.')
  }
  if (options[SELF_SERVICE] === true && u.password_created_at && cfg.minimumPasswordAge > 0) {
    const minAge = Date.parse(u.password_created_at) + cfg.minimumPasswordAge * DAY_MS
    if (now < minAge) {
      const left = Math.floor((minAge - now) / DAY_MS)
      throw badRequest('You cannot change your password at this time due to the minimum password age. Once you ' +
        `change your password, it must be used for ${cfg.minimumPasswordAge} day(s) before it can be changed. ` +
        `Please try again in ${left} day(s) or contact your administrator to reset your password.`)
    }
  }
  await checkHistory(c, u, next)

  const pw = await newPassword(c, next, options)
  await c.db.transaction().execute(async (tx) => {
    await tx.updateTable('users').set({ ...pw, options: withSelfService(options, true) }).where('id', '=', u.id).execute()
    await recordPassword(tx, cfg, u.id, pw)
  })
  await c.revocations.revoke({ userId: u.id })
  c.changed()
}

/** The new password must differ from the last unique_last_password_count ones (current included). */
async function checkHistory(c: IdentityCtx, u: UserRow, next: string): Promise<void> {
  const n = c.config.uniqueLastPasswordCount
  if (n <= 0) return
  const rows = await c.db.selectFrom('password_history').select('password_hash').where('user_id', '=', u.id)
    .orderBy('id', 'desc').limit(n).execute()
  // A password set before history was kept (or by bootstrap) still counts as the current one.
  const hashes = rows.map((r) => r.password_hash)
  if (u.password_hash && !hashes.includes(u.password_hash)) hashes.unshift(u.password_hash)
  for (const h of hashes.slice(0, n)) {
    if (await verifyPassword(next, h)) {
      throw badRequest('The new password cannot be identical to a previous password. The total number which ' +
        `includes the new password must be unique is ${n}.`)
    }
  }
}

/**
 * Deletes a user and what hangs off it: group memberships, role assignments, credentials,
 * application credentials (with their role and access-rule links), access rules and password history.
 * Tokens are revoked by the caller.
 */
export async function deleteUserCascade(db: Kysely<IdentitySchema>, userId: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('user_groups').where('user_id', '=', userId).execute()
    await tx.deleteFrom('assignments').where('actor_id', '=', userId)
      .where('type', 'in', ['UserProject', 'UserDomain', 'UserSystem']).execute()
    await tx.deleteFrom('credentials').where('user_id', '=', userId).execute()
    const appCreds = (await tx.selectFrom('application_credentials').select('id').where('user_id', '=', userId).execute())
      .map((r) => r.id)
    if (appCreds.length > 0) {
      await tx.deleteFrom('app_cred_access_rules').where('app_cred_id', 'in', appCreds).execute()
      await tx.deleteFrom('app_cred_roles').where('app_cred_id', 'in', appCreds).execute()
      await tx.deleteFrom('application_credentials').where('id', 'in', appCreds).execute()
    }
    // The user's access rules go with the user (Keystone's _delete_access_rules_for_user).
    await tx.deleteFrom('access_rules').where('user_id', '=', userId).execute()
    await tx.deleteFrom('password_history').where('user_id', '=', userId).execute()
    await tx.deleteFrom('users').where('id', '=', userId).execute()
  })
}
