import { CloudError, badRequest, forbidden } from '../core/errors.ts'
import type { IdentityCtx } from './context.ts'
import type { RoleRow, TrustRow, UserRow } from './schema.ts'
import type { TokenPayload } from './tokens.ts'
import { checkTrustChain, delegatedRoles, findTrust, usableTrust } from './trusts-store.ts'

// Trust-scoped tokens (OS-TRUST): which trust a token request names, and what a token
// issued through it grants, checked again every time the token is rendered (Keystone's
// TokenModel: _validate_token_user, _get_trust_roles and _validate_trust_scope).

const unauth = (msg: string) => new CloudError('Unauthorized', msg)

/** What a trust-scoped token gets from its trust, read from current data. */
export interface TrustGrant {
  trust: TrustRow
  trustor: UserRow
  /** The roles the token carries (the trust's, and those they imply). */
  roles: RoleRow[]
}

/**
 * The trust a token request scopes to (`scope: {"OS-TRUST:trust": {"id": …}}`, and nothing
 * else). An unknown, expired or used-up trust, or one whose project is gone, is a 401
 * (Keystone turns its TrustNotFound into Unauthorized at issue).
 */
export async function trustForIssue(c: IdentityCtx, scope: Record<string, unknown>): Promise<TrustRow> {
  if (Object.keys(scope).some((k) => k !== 'OS-TRUST:trust' && scope[k] !== undefined)) {
    throw badRequest('Expecting to find system, project, domain, OS-TRUST:trust or unscoped in scope.')
  }
  const ref = scope['OS-TRUST:trust'] as { id?: unknown }
  if (typeof ref.id !== 'string' || ref.id === '') throw badRequest('Expecting to find trust_id in trust.')
  let trust: TrustRow
  try {
    trust = await usableTrust(c.db, ref.id, c.clock.now())
  } catch (err) {
    if (err instanceof CloudError && err.status === 404) throw unauth(err.message)
    throw err
  }
  if (trust.project_id) {
    const p = await c.db.selectFrom('projects').select('id').where('id', '=', trust.project_id).executeTakeFirst()
    if (!p) throw unauth(`Could not find project: ${trust.project_id}.`)
  }
  return trust
}

/**
 * Checks a trust-scoped token against the current data: the trust still exists and has
 * not expired (a use count that reached 0 does not invalidate tokens already issued), the
 * token's user is its trustee, the trustor is enabled and still holds every delegated role.
 * Throws what Keystone throws at issue (401, or 403 for the trustee, trustor and roles
 * checks); callers validating an existing token turn any of them into "invalid token".
 */
export async function trustGrant(c: IdentityCtx, p: TokenPayload & { trustId: string }): Promise<TrustGrant> {
  const now = c.clock.now()
  const trust = await findTrust(c.db, p.trustId)
  if (!trust || (trust.expires_at !== null && Date.parse(trust.expires_at) <= now)) {
    throw unauth(`Could not find trust: ${p.trustId}.`)
  }
  if (trust.project_id !== (p.projectId ?? null)) throw unauth(`Could not find trust: ${p.trustId}.`)
  if (p.userId !== trust.trustee_user_id) throw forbidden('User is not a trustee.')
  const trustor = await c.db.selectFrom('users').selectAll().where('id', '=', trust.trustor_user_id).executeTakeFirst()
  if (!trustor) throw unauth(`Could not find user: ${trust.trustor_user_id}.`)
  const dom = await c.db.selectFrom('domains').select('enabled').where('id', '=', trustor.domain_id).executeTakeFirst()
  if (!dom?.enabled) throw unauth('Trustor domain is disabled.')
  if (!trustor.enabled) throw forbidden('Trustor is disabled.')
  let roles: RoleRow[]
  try {
    if (trust.redelegated_trust_id) await checkTrustChain(c.db, trust, now)
    roles = await delegatedRoles(c.db, trust, now)
  } catch (err) {
    // A parent trust that went away or expired breaks the chain.
    if (err instanceof CloudError && err.status === 404) throw unauth(err.message)
    throw err
  }
  return { trust, trustor, roles }
}
