import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { CloudError } from '../core/errors.ts'
import type { IdentityCtx } from './context.ts'
import type { IdentitySchema, RoleRow } from './schema.ts'
import { notFoundError, parseJson, selfLink } from './api/common.ts'

// Roles as Keystone stores them: a global role has no domain (the table keeps '' for it,
// the API shows null); a domain-specific role only implies other roles and never reaches
// a token itself.

/** keystone.conf [assignment] prohibited_implied_role (default): no role may imply these. */
export const PROHIBITED_IMPLIED_ROLES = ['admin']

/** Attributes the role table has columns for; anything else a client sends is kept in `extra`. */
export const ROLE_COLUMNS = ['id', 'name', 'domain_id', 'description', 'options', 'links'] as const

/** A role as Keystone shows it (unknown attributes given at create or update included). */
export function roleView(req: FastifyRequest, r: RoleRow) {
  return {
    ...parseJson(r.extra),
    id: r.id, name: r.name, domain_id: r.domain_id === '' ? null : r.domain_id,
    description: r.description === '' ? null : r.description,
    options: parseJson(r.options),
    links: selfLink(req, `/roles/${r.id}`),
  }
}

/** `{id, name, links}` of a role in a role_inference body. */
export function roleRef(req: FastifyRequest, r: { id: string; name: string }) {
  return { id: r.id, links: selfLink(req, `/roles/${r.id}`), name: r.name }
}

export async function findRole(db: Kysely<IdentitySchema>, id: string): Promise<RoleRow | undefined> {
  return db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst()
}

/** The role, or Keystone's 404 "Could not find role: id." */
export async function getRole(db: Kysely<IdentitySchema>, id: string): Promise<RoleRow> {
  const r = await findRole(db, id)
  if (!r) throw notFoundError('role', id)
  return r
}

export async function rolesByIds(db: Kysely<IdentitySchema>, ids: Iterable<string>): Promise<Map<string, RoleRow>> {
  const list = [...new Set(ids)]
  if (list.length === 0) return new Map()
  const rows = await db.selectFrom('roles').selectAll().where('id', 'in', list).execute()
  return new Map(rows.map((r) => [r.id, r]))
}

export const isImmutable = (r: RoleRow): boolean => parseJson<{ immutable?: unknown }>(r.options).immutable === true

/**
 * Keystone's check_immutable_update: an immutable role accepts only an update that sets
 * nothing but `options.immutable` to false or null (make it mutable first, then change it).
 */
export function checkImmutableUpdate(r: RoleRow, patch: Record<string, unknown>): void {
  if (!isImmutable(r)) return
  const opts = (patch.options ?? {}) as Record<string, unknown>
  if (Object.keys(patch).length > 1 || !('immutable' in opts) || (opts.immutable !== false && opts.immutable !== null)) {
    throw new CloudError('Forbidden', `Unable to update immutable role resource: \`${r.id}. Set resource option "immutable" to false first.`)
  }
}

export function checkImmutableDelete(r: RoleRow): void {
  if (isImmutable(r)) {
    throw new CloudError('Forbidden', `Unable to delete immutable role resource: \`${r.id}. Set resource option "immutable" to false first.`)
  }
}

/** Merges resource options as Keystone does: a null value removes the option. */
export function mergeOptions(current: Record<string, unknown>, patch: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = { ...current }
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === null) delete out[k]; else out[k] = v
  }
  return out
}

/**
 * Deletes a role with everything that refers to it: its assignments, the inference rules
 * it takes part in, and (as Keystone does) the application credentials of users who held
 * it directly on a project, for that project. Tokens are re-rendered without it.
 */
export async function deleteRole(c: IdentityCtx, roleId: string): Promise<void> {
  const db = c.db
  const appCreds = await db.selectFrom('application_credentials as ac')
    .innerJoin('assignments as a', (j) => j.onRef('a.actor_id', '=', 'ac.user_id').onRef('a.target_id', '=', 'ac.project_id'))
    .select('ac.id').distinct()
    .where('a.role_id', '=', roleId).where('a.type', '=', 'UserProject').execute()
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('assignments').where('role_id', '=', roleId).execute()
    await tx.deleteFrom('implied_roles').where((eb) => eb.or([eb('prior_role_id', '=', roleId), eb('implied_role_id', '=', roleId)])).execute()
    await tx.deleteFrom('app_cred_roles').where('role_id', '=', roleId).execute()
    if (appCreds.length > 0) {
      const ids = appCreds.map((a) => a.id)
      // Their links go; the access rules stay with their users (Keystone keeps them too).
      await tx.deleteFrom('app_cred_access_rules').where('app_cred_id', 'in', ids).execute()
      await tx.deleteFrom('app_cred_roles').where('app_cred_id', 'in', ids).execute()
      await tx.deleteFrom('application_credentials').where('id', 'in', ids).execute()
    }
    await tx.deleteFrom('roles').where('id', '=', roleId).execute()
  })
  for (const a of appCreds) await c.revocations.revoke({ appCredId: a.id })
  c.changed()
}
