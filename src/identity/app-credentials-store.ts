import { randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { AuthContext } from '../core/auth.ts'
import { CloudError, badRequest, forbidden } from '../core/errors.ts'
import { parseTime } from '../core/clock.ts'
import type { AccessRuleRow, AppCredRow, IdentitySchema } from './schema.ts'
import { newId, selfLink } from './api/common.ts'

// Application credentials and their access rules: views, secrets, expiry parsing and the
// "restricted application credential" check Keystone applies to delegated tokens.

type Db = Kysely<IdentitySchema>

/** Keystone's `_generate_secret`: 64 random bytes, URL-safe base64 without padding (86 chars). */
export function generateSecret(): string {
  return randomBytes(64).toString('base64url')
}

/**
 * Keystone's `_check_unrestricted_application_credential`: a token obtained with a restricted
 * application credential may not create or delete credentials of any kind (403).
 */
export async function assertUnrestricted(db: Db, ctx: AuthContext, what: string): Promise<void> {
  if (!ctx.methods.includes('application_credential')) return
  const ac = ctx.applicationCredentialId
    ? await db.selectFrom('application_credentials').select('unrestricted').where('id', '=', ctx.applicationCredentialId).executeTakeFirst()
    : undefined
  if (!ac?.unrestricted) {
    throw forbidden(`You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing additional ${what}..`)
  }
}

/**
 * Parses `expires_at` as Keystone does (UTC when no zone is given) and keeps microseconds:
 * returns `YYYY-MM-DDTHH:MM:SS.ffffffZ`. 400 when malformed or not in the future.
 */
export function parseExpiry(s: string, now: number): string {
  const ms = parseTime(s)
  if (Number.isNaN(ms) || !/T/.test(s)) {
    throw badRequest('Timestamp not in expected format. The server could not comply with the request since it is ' +
      'either malformed or otherwise incorrect. The client is assumed to be in error.')
  }
  if (ms < now) {
    throw badRequest("The 'expires_at' must not be before now. The server could not comply with the request since it " +
      'is either malformed or otherwise incorrect. The client is assumed to be in error.')
  }
  const frac = /:\d{2}\.(\d+)/.exec(s)?.[1] ?? ''
  const micro = (frac + '000000').slice(3, 6) // digits below the millisecond Date keeps
  return new Date(ms).toISOString().slice(0, 23) + micro + 'Z'
}

/** Keystone renders datetimes without a zone and with microseconds: 2026-01-01T12:00:00.000000. */
export function renderExpiry(stored: string | null): string | null {
  if (!stored) return null
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(stored)
  if (!m) return stored
  return `${m[1]}.${((m[2] ?? '') + '000000').slice(0, 6)}`
}

export interface AppCredDetail {
  row: AppCredRow
  roles: { id: string; name: string; domain_id: string | null }[]
  rules: AccessRuleRow[]
}

/** Loads the roles and access rules of application credentials. */
export async function appCredDetails(db: Db, rows: AppCredRow[]): Promise<AppCredDetail[]> {
  if (rows.length === 0) return []
  const ids = rows.map((r) => r.id)
  const roleLinks = await db.selectFrom('app_cred_roles').select(['app_cred_id', 'role_id']).where('app_cred_id', 'in', ids).execute()
  const roleIds = [...new Set(roleLinks.map((l) => l.role_id))]
  const roles = roleIds.length > 0
    ? await db.selectFrom('roles').select(['id', 'name', 'domain_id']).where('id', 'in', roleIds).execute()
    : []
  const byId = new Map(roles.map((r) => [r.id, { id: r.id, name: r.name, domain_id: r.domain_id === '' ? null : r.domain_id }]))
  const rules = await db.selectFrom('app_cred_access_rules as l').innerJoin('access_rules as r', 'r.id', 'l.access_rule_id')
    .selectAll('r').select('l.app_cred_id').where('l.app_cred_id', 'in', ids).orderBy('r.id').execute()
  return rows.map((row) => ({
    row,
    // A role deleted since the credential was made no longer shows (nor grants anything).
    roles: roleLinks.filter((l) => l.app_cred_id === row.id).flatMap((l) => byId.get(l.role_id) ?? [])
      .sort((a, b) => a.name.localeCompare(b.name)),
    rules: rules.filter((r) => r.app_cred_id === row.id).map(({ app_cred_id: _, ...rule }) => rule),
  }))
}

/** An access rule as asked for on create: by content, or by the id of one of the user's rules. */
export interface AccessRuleRequest { id?: string; service?: string; path?: string; method?: string }

export const accessRuleNotFound = (id: string) => new CloudError('NotFound', `Could not find Access Rule: ${id}.`)

/** True when a requested rule carries its whole content (service, path and method). */
export const hasRuleContent = (r: AccessRuleRequest): r is Required<Omit<AccessRuleRequest, 'id'>> & AccessRuleRequest =>
  !!(r.service && r.path && r.method)

/**
 * Links a new application credential to its access rules, as Keystone's SQL backend does.
 * Access rules belong to the user and outlive the credentials that use them:
 * - a rule named by id must be one of the user's own (another user's id is 404, as unknown);
 * - a rule given by content reuses the user's identical rule, or becomes a new rule of
 *   theirs (with the id given, if any and unused).
 * Runs inside the caller's transaction; a unique violation means a concurrent request made
 * the same rule first (the caller retries, and then finds it).
 */
export async function linkAccessRules(tx: Db, userId: string, appCredId: string, asked: AccessRuleRequest[]): Promise<void> {
  const linked = new Set<string>()
  for (const r of asked) {
    let ruleId: string | undefined
    if (r.id) {
      const byId = await tx.selectFrom('access_rules').select(['id', 'user_id']).where('id', '=', r.id).executeTakeFirst()
      if (byId && byId.user_id !== userId) throw accessRuleNotFound(r.id)
      ruleId = byId?.id
    }
    if (!ruleId) {
      if (!hasRuleContent(r)) throw accessRuleNotFound(r.id ?? '')
      const same = await tx.selectFrom('access_rules').select('id').where('user_id', '=', userId)
        .where('service', '=', r.service).where('path', '=', r.path).where('method', '=', r.method).executeTakeFirst()
      ruleId = same?.id
      if (!ruleId) {
        ruleId = r.id ?? newId()
        await tx.insertInto('access_rules').values({ id: ruleId, user_id: userId, service: r.service, path: r.path, method: r.method }).execute()
      }
    }
    // The same rule asked for twice is linked once.
    if (linked.has(ruleId)) continue
    linked.add(ruleId)
    await tx.insertInto('app_cred_access_rules').values({ app_cred_id: appCredId, access_rule_id: ruleId }).execute()
  }
}

export function accessRuleView(r: AccessRuleRow) {
  return { id: r.id, service: r.service, path: r.path, method: r.method }
}

/** An application credential as Keystone shows it (never its secret, except once on create). */
export function appCredView(req: FastifyRequest, d: AppCredDetail) {
  const r = d.row
  return {
    id: r.id, name: r.name, description: r.description === '' ? null : r.description, user_id: r.user_id,
    project_id: r.project_id, roles: d.roles, expires_at: renderExpiry(r.expires_at),
    unrestricted: r.unrestricted === 1, access_rules: d.rules.map(accessRuleView),
    links: selfLink(req, `/users/${r.user_id}/application_credentials/${r.id}`),
  }
}
