import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { CloudError, forbidden } from '../core/errors.ts'
import { expandImplied, projectChain } from './effective-roles.ts'
import { roleView, rolesByIds } from './roles-store.ts'
import type { IdentitySchema, RoleRow, TrustRow } from './schema.ts'
import { baseUrl, notFoundError, parseJson, selfLink } from './api/common.ts'

// OS-TRUST rows and the rules Keystone's trust manager applies to them (keystone/trust/
// core.py and backends/sql.py): which trusts are usable, redelegation chains, use counts.

type Db = Kysely<IdentitySchema>

/** keystone.conf [trust] max_redelegation_count (default). */
export const MAX_REDELEGATION_COUNT = 3

/** Attributes with columns (or computed); anything else a client sends is kept in `extra`. */
export const TRUST_ATTRIBUTES = ['id', 'trustor_user_id', 'trustee_user_id', 'project_id', 'impersonation', 'expires_at',
  'remaining_uses', 'deleted_at', 'redelegated_trust_id', 'redelegation_count', 'allow_redelegation', 'roles',
  'roles_links', 'links'] as const

/** Keystone's isotime(subsecond=True): whole seconds, then `.000000Z`. */
export function trustTime(iso: string): string {
  return new Date(Date.parse(iso)).toISOString().slice(0, 19) + '.000000Z'
}

/** A trust as Keystone shows it; `roles` (full role views) only on create and show. */
export function trustView(req: FastifyRequest, t: TrustRow, roles?: RoleRow[]): Record<string, unknown> {
  const v: Record<string, unknown> = {
    ...parseJson(t.extra),
    id: t.id, trustor_user_id: t.trustor_user_id, trustee_user_id: t.trustee_user_id, project_id: t.project_id,
    impersonation: t.impersonation === 1, expires_at: t.expires_at ? trustTime(t.expires_at) : null,
    remaining_uses: t.remaining_uses, deleted_at: null, redelegated_trust_id: t.redelegated_trust_id,
    redelegation_count: t.redelegation_count,
    links: selfLink(req, `/OS-TRUST/trusts/${t.id}`),
  }
  if (roles) {
    v.roles = roles.map((r) => roleView(req, r))
    v.roles_links = { self: `${baseUrl(req)}/v3/OS-TRUST/trusts/${t.id}/roles`, previous: null, next: null }
  }
  return v
}

export async function findTrust(db: Db, id: string): Promise<TrustRow | undefined> {
  return db.selectFrom('trusts').selectAll().where('id', '=', id).executeTakeFirst()
}

/** True when the trust has expired or has no uses left (Keystone then treats it as absent). */
export function isSpent(t: TrustRow, now: number): boolean {
  return (t.expires_at !== null && Date.parse(t.expires_at) <= now) || (t.remaining_uses !== null && t.remaining_uses <= 0)
}

/**
 * Keystone's get_trust: the trust if it exists, has not expired and has uses left, else 404
 * "Could not find trust: id."; a redelegated trust also needs a valid chain (403 otherwise).
 */
export async function usableTrust(db: Db, id: string, now: number): Promise<TrustRow> {
  const t = await findTrust(db, id)
  if (!t || isSpent(t, now)) throw notFoundError('trust', id)
  if (t.redelegated_trust_id) await checkTrustChain(db, t, now)
  return t
}

/** The trust and the trusts it was redelegated from, nearest first (each must be usable). */
export async function trustPedigree(db: Db, t: TrustRow, now: number): Promise<TrustRow[]> {
  const chain = [t]
  let cur = t
  while (cur.redelegated_trust_id) {
    const parent = await findTrust(db, cur.redelegated_trust_id)
    if (!parent || isSpent(parent, now)) throw notFoundError('trust', cur.redelegated_trust_id)
    if (chain.some((x) => x.id === parent.id)) break
    chain.push(parent)
    cur = parent
  }
  return chain
}

/** A redelegated trust's chain: every parent usable, still redelegatable, its trustee enabled. */
export async function checkTrustChain(db: Db, t: TrustRow, now: number): Promise<void> {
  const chain = await trustPedigree(db, t, now)
  const roles = await rolesOfTrusts(db, chain.map((x) => x.id))
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i]!, child = chain[i - 1]!
    validateRedelegation({ ...parent, roleIds: roles.get(parent.id) ?? [] },
      { expiresAt: child.expires_at, remainingUses: child.remaining_uses, impersonation: child.impersonation === 1, roleIds: roles.get(child.id) ?? [] })
    const trustee = await db.selectFrom('users').select('enabled').where('id', '=', parent.trustee_user_id).executeTakeFirst()
    if (!trustee?.enabled) throw forbidden('One of the trust agents is disabled or deleted')
  }
}

/** What a new (or existing) trust asks of the trust it is redelegated from. */
export interface Redelegated { expiresAt: string | null; remainingUses: number | null; impersonation: boolean; roleIds: string[] }

/**
 * Keystone's _validate_redelegation: the parent may still redelegate, the child asks no
 * use limit, no later expiry, no role and no impersonation the parent does not give.
 * Returns the child's expiry (the parent's when the child gives none).
 */
export function validateRedelegation(parent: TrustRow & { roleIds: string[] }, child: Redelegated): string | null {
  const depth = parent.redelegation_count
  if (!(depth > 0 && depth <= MAX_REDELEGATION_COUNT)) {
    throw forbidden(`Remaining redelegation depth of ${depth} out of allowed range of [0..${MAX_REDELEGATION_COUNT}]`)
  }
  if (child.remainingUses !== null) {
    throw forbidden(`Field "remaining_uses" is set to ${child.remainingUses} while it must not be set in order to redelegate a trust`)
  }
  let expiresAt = child.expiresAt
  if (expiresAt) {
    if (parent.expires_at && Date.parse(parent.expires_at) < Date.parse(expiresAt)) {
      throw forbidden('Requested expiration time is more than redelegated trust can provide')
    }
  } else expiresAt = parent.expires_at
  const allowed = new Set(parent.roleIds)
  if (!child.roleIds.every((r) => allowed.has(r))) throw forbidden('Some of requested roles are not in redelegated trust')
  if (parent.impersonation !== 1 && child.impersonation) {
    throw forbidden(`Impersonation is not allowed because redelegated trust does not specify impersonation. Redelegated trust id: ${parent.id}`)
  }
  return expiresAt
}

/** Role ids per trust. */
export async function rolesOfTrusts(db: Db, ids: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(ids.map((id) => [id, []]))
  if (ids.length === 0) return out
  const rows = await db.selectFrom('trust_roles').select(['trust_id', 'role_id']).where('trust_id', 'in', ids).execute()
  for (const r of rows) out.get(r.trust_id)?.push(r.role_id)
  return out
}

/** The roles a trust delegates that still exist, by name (Keystone skips deleted ones in views). */
export async function trustRoleRows(db: Db, trustId: string): Promise<RoleRow[]> {
  const ids = (await rolesOfTrusts(db, [trustId])).get(trustId) ?? []
  return [...(await rolesByIds(db, ids)).values()].sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * Every role a user holds on a project, as Keystone's effective role assignments list them:
 * direct, through groups, inherited from the domain or parent projects, and implied,
 * domain-specific roles included.
 */
export async function heldRoleIds(db: Db, userId: string, projectId: string): Promise<Set<string>> {
  const chain = await projectChain(db, projectId)
  if (chain.length === 0) return new Set()
  const [project, ...ancestors] = chain
  const rows = await db.selectFrom('assignments').select('role_id')
    .where((eb) => eb.or([
      eb('actor_id', '=', userId),
      eb('actor_id', 'in', eb.selectFrom('user_groups').select('group_id').where('user_id', '=', userId)),
    ]))
    .where((eb) => eb.or([
      eb.and([eb('type', 'in', ['UserProject', 'GroupProject']), eb('target_id', '=', project!.id), eb('inherited', '=', 0)]),
      eb.and([eb('type', 'in', ['UserDomain', 'GroupDomain']), eb('target_id', '=', project!.domain_id), eb('inherited', '=', 1)]),
      ...(ancestors.length > 0
        ? [eb.and([eb('type', 'in', ['UserProject', 'GroupProject']), eb('target_id', 'in', ancestors.map((a) => a.id)), eb('inherited', '=', 1)])]
        : []),
    ]))
    .execute()
  return expandImplied(db, rows.map((r) => r.role_id))
}

/** The user at the root of a trust chain (the original trustor). */
export async function originalTrustor(db: Db, t: TrustRow, now: number): Promise<string> {
  const chain = await trustPedigree(db, t, now)
  return chain[chain.length - 1]!.trustor_user_id
}

/**
 * The roles a trust-scoped token carries: the trust's roles and those they imply, each of
 * which the original trustor must still hold on the project (else 403 "Trustee has no
 * delegated roles.", as Keystone); domain-specific roles are left out of the token.
 */
export async function delegatedRoles(db: Db, t: TrustRow, now: number): Promise<RoleRow[]> {
  if (!t.project_id) return []
  const trustor = await originalTrustor(db, t, now)
  const wanted = await expandImplied(db, (await rolesOfTrusts(db, [t.id])).get(t.id) ?? [])
  const held = await heldRoleIds(db, trustor, t.project_id)
  for (const id of wanted) if (!held.has(id)) throw forbidden('Trustee has no delegated roles.')
  const rows = await rolesByIds(db, wanted)
  return [...rows.values()].filter((r) => r.domain_id === '').sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * Consumes one use of a limited trust (Keystone's consume_use): an optimistic
 * `UPDATE … WHERE remaining_uses = <seen>`, retried when another issue raced this one.
 */
export async function consumeUse(db: Db, trustId: string): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const row = await db.selectFrom('trusts').select('remaining_uses').where('id', '=', trustId).executeTakeFirst()
    if (!row) throw notFoundError('trust', trustId)
    if (row.remaining_uses === null) return
    if (row.remaining_uses <= 0) throw new CloudError('Forbidden', `No remaining uses for trust: ${trustId}.`)
    const res = await db.updateTable('trusts').set({ remaining_uses: row.remaining_uses - 1 })
      .where('id', '=', trustId).where('remaining_uses', '=', row.remaining_uses).executeTakeFirst()
    if (Number(res.numUpdatedRows) === 1) return
  }
  throw new CloudError('Internal', `Unable to consume trust ${trustId}. Unable to acquire lock.`)
}
