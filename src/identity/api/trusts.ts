import type { FastifyRequest } from 'fastify'
import { type TSchema, Type } from 'typebox'
import { parseTime } from '../../core/clock.ts'
import { badRequest, forbidden } from '../../core/errors.ts'
import { isUniqueViolation } from '../../core/db/index.ts'
import type { Api } from '../../core/http/app.ts'
import type { AuthContext } from '../../core/auth.ts'
import type { IdentityAuthContext } from '../auth-service.ts'
import type { IdentityCtx } from '../context.ts'
import { getRole } from '../roles-store.ts'
import type { TrustRow } from '../schema.ts'
import {
  MAX_REDELEGATION_COUNT, TRUST_ATTRIBUTES, findTrust, heldRoleIds, originalTrustor, rolesOfTrusts, trustRoleRows,
  trustView, usableTrust, validateRedelegation,
} from '../trusts-store.ts'
import { duplicateError, listLinks, newId, notFoundError } from './common.ts'

// OS-TRUST (keystone/api/trusts.py): a trustor delegates some of its roles on a project to
// a trustee, who then gets trust-scoped tokens (see trust-tokens.ts). Trusts are immutable.

const P = '/v3/OS-TRUST/trusts'
const IdString = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' })
const UserId = Type.String({ minLength: 1, maxLength: 64 })
const Nullable = <T extends TSchema>(t: T) => Type.Optional(Type.Union([t, Type.Null()]))

// Keystone's trust_create schema: unknown attributes are accepted (and kept in `extra`).
const TrustCreate = Type.Object({
  trust: Type.Object({
    trustor_user_id: UserId,
    trustee_user_id: UserId,
    impersonation: Type.Boolean(),
    project_id: Nullable(IdString),
    remaining_uses: Nullable(Type.Integer({ minimum: 1 })),
    expires_at: Nullable(Type.String()),
    allow_redelegation: Nullable(Type.Boolean()),
    redelegation_count: Nullable(Type.Integer({ minimum: 0 })),
    roles: Type.Optional(Type.Array(Type.Object({
      id: Type.Optional(IdString),
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' })),
    }, { additionalProperties: false, minProperties: 1, maxProperties: 1 }))),
  }),
})
type TrustBody = {
  trustor_user_id: string; trustee_user_id: string; impersonation: boolean; project_id?: string | null
  remaining_uses?: number | null; expires_at?: string | null; allow_redelegation?: boolean | null
  redelegation_count?: number | null; roles?: { id?: string; name?: string }[]
} & Record<string, unknown>

const TrustParams = Type.Object({ trust_id: Type.String({ minLength: 1, maxLength: 255 }) })
const TrustRoleParams = Type.Object({ trust_id: Type.String({ minLength: 1, maxLength: 255 }), role_id: Type.String({ minLength: 1, maxLength: 255 }) })
const ListQuery = Type.Object({ trustor_user_id: Type.Optional(Type.String()), trustee_user_id: Type.Optional(Type.String()) })

const forbiddenAction = (action: string) => forbidden(`You are not authorized to perform the requested action: ${action}.`)

/** Keystone's parse_expiration_date: ISO 8601 (UTC unless a zone is given), not in the past. */
function parseExpiry(s: string, now: number): string {
  const t = parseTime(s.endsWith('Z') || /[+-]\d{2}:?\d{2}$/.test(s) ? s : s + 'Z')
  if (Number.isNaN(t)) {
    throw badRequest('Timestamp not in expected format. The server could not comply with the request since it is either ' +
      'malformed or otherwise incorrect. The client is assumed to be in error.')
  }
  if (t < now) {
    throw badRequest("The 'expires_at' must not be before now. The server could not comply with the request since it is " +
      'either malformed or otherwise incorrect. The client is assumed to be in error.')
  }
  return new Date(t).toISOString()
}

export function trustRoutes(api: Api, c: IdentityCtx): void {
  // The trust a route's policy target loaded (404 before any policy check, as Keystone).
  const loaded = new WeakMap<FastifyRequest, TrustRow>()
  const usableTarget = async (req: FastifyRequest) => {
    const t = await usableTrust(c.db, (req.params as { trust_id: string }).trust_id, c.clock.now())
    loaded.set(req, t)
    return { trust: { trustor_user_id: t.trustor_user_id, trustee_user_id: t.trustee_user_id } }
  }

  /** An application credential token may manage trusts only when unrestricted. */
  async function checkUnrestricted(ctx: AuthContext): Promise<void> {
    if (!ctx.applicationCredentialId) return
    const ac = await c.db.selectFrom('application_credentials').select('unrestricted')
      .where('id', '=', ctx.applicationCredentialId).executeTakeFirst()
    if (!ac?.unrestricted) throw forbiddenAction("Using method 'application_credential' is not allowed for managing trusts")
  }

  api.post(P, {
    schema: { body: TrustCreate },
    config: {
      policy: 'identity:create_trust',
      target: (req) => ({ trust: { trustor_user_id: (req.body as { trust: TrustBody }).trust.trustor_user_id } }),
    },
  }, async (req, reply) => {
    const b = (req.body as { trust: TrustBody }).trust
    const ctx = req.ctx as IdentityAuthContext
    const now = c.clock.now()
    await checkUnrestricted(ctx)
    const projectId = b.project_id ?? null
    if (projectId && !b.roles?.length) throw forbiddenAction('At least one role should be specified')
    if (ctx.userId !== b.trustor_user_id) throw forbiddenAction('The authenticated user should match the trustor')
    const trustee = await c.db.selectFrom('users').select('id').where('id', '=', b.trustee_user_id).executeTakeFirst()
    if (!trustee) throw notFoundError('user', b.trustee_user_id)

    // A trust-scoped token creates a redelegated trust: its trust is the parent.
    const parent = ctx.trust ? await usableTrust(c.db, ctx.trust.id, now) : undefined
    // Roles by id or by (global) name; the trustor at the root of the chain must hold each.
    const roleIds: string[] = []
    for (const r of b.roles ?? []) {
      if (r.id) { roleIds.push(r.id); continue }
      const row = await c.db.selectFrom('roles').select('id').where('name', '=', r.name!).where('domain_id', '=', '').executeTakeFirst()
      if (!row) throw notFoundError('role', r.name!)
      roleIds.push(row.id)
    }
    const ids = [...new Set(roleIds)]
    let held = new Set<string>()
    if (projectId) {
      const project = await c.db.selectFrom('projects').select('id').where('id', '=', projectId).executeTakeFirst()
      if (!project) throw notFoundError('project', projectId)
      held = await heldRoleIds(c.db, parent ? await originalTrustor(c.db, parent, now) : b.trustor_user_id, projectId)
    }
    for (const id of ids) if (!held.has(id)) throw notFoundError('role', id)
    let expiresAt = b.expires_at == null ? null : parseExpiry(b.expires_at, now)

    // Redelegation (keystone/trust/core.py create_trust).
    const requested = b.redelegation_count ?? null
    const redelegatable = b.allow_redelegation === true && requested !== 0
    const remainingUses = b.remaining_uses ?? null
    let count: number
    if (!redelegatable) count = 0
    else {
      if (requested !== null && requested > MAX_REDELEGATION_COUNT) {
        throw forbidden(`Requested redelegation depth of ${requested} is greater than allowed ${MAX_REDELEGATION_COUNT}`)
      }
      if (remainingUses !== null) throw badRequest('remaining_uses must not be set if redelegation is allowed')
      count = requested ?? MAX_REDELEGATION_COUNT
    }
    if (parent) {
      const remaining = parent.redelegation_count - 1
      if (redelegatable && requested && requested !== remaining) {
        throw forbidden('Modifying "redelegation_count" upon redelegation is forbidden. Omitting this parameter is advised.')
      }
      if (redelegatable) count = remaining
      // The whole chain must allow what the new trust asks.
      let cur: TrustRow | undefined = parent
      while (cur) {
        const roles = (await rolesOfTrusts(c.db, [cur.id])).get(cur.id) ?? []
        expiresAt = validateRedelegation({ ...cur, roleIds: roles },
          { expiresAt, remainingUses, impersonation: b.impersonation, roleIds: ids })
        cur = cur.redelegated_trust_id ? await findTrust(c.db, cur.redelegated_trust_id) : undefined
      }
    }

    const extra: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(b)) if (!(TRUST_ATTRIBUTES as readonly string[]).includes(k)) extra[k] = v
    const row: TrustRow = {
      id: newId(), trustor_user_id: b.trustor_user_id, trustee_user_id: b.trustee_user_id, project_id: projectId,
      impersonation: b.impersonation ? 1 : 0, expires_at: expiresAt, remaining_uses: remainingUses,
      redelegated_trust_id: parent?.id ?? null, redelegation_count: count, extra: JSON.stringify(extra),
      created_at: new Date(now).toISOString(),
    }
    try {
      await c.db.transaction().execute(async (tx) => {
        await tx.insertInto('trusts').values(row).execute()
        for (const id of ids) await tx.insertInto('trust_roles').values({ trust_id: row.id, role_id: id }).execute()
      })
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateError('trust', `ID ${row.id}`)
      throw err
    }
    c.log.info({ trust: row.id, trustor: row.trustor_user_id, trustee: row.trustee_user_id }, 'trust created')
    reply.code(201)
    return { trust: trustView(req, row, await trustRoleRows(c.db, row.id)) }
  })

  api.get(P, { schema: { querystring: ListQuery }, config: { selfPolicy: true } }, async (req) => {
    const q = req.query as { trustor_user_id?: string; trustee_user_id?: string }
    // The rule depends on the filter: anyone may list the trusts they are a party to.
    if (q.trustor_user_id) c.policy.enforce('identity:list_trusts_for_trustor', req.ctx, { trust: { trustor_user_id: q.trustor_user_id } })
    else if (q.trustee_user_id) c.policy.enforce('identity:list_trusts_for_trustee', req.ctx, { trust: { trustee_user_id: q.trustee_user_id } })
    else c.policy.enforce('identity:list_trusts', req.ctx, {})
    let query = c.db.selectFrom('trusts').selectAll()
    if (q.trustor_user_id) query = query.where('trustor_user_id', '=', q.trustor_user_id)
    if (q.trustee_user_id) query = query.where('trustee_user_id', '=', q.trustee_user_id)
    const rows = await query.orderBy('created_at').orderBy('id').execute()
    return { trusts: rows.map((t) => trustView(req, t)), links: listLinks(req) }
  })

  api.get(`${P}/:trust_id`, { schema: { params: TrustParams }, config: { policy: 'identity:get_trust', target: usableTarget } }, async (req) => {
    const t = loaded.get(req)!
    return { trust: trustView(req, t, await trustRoleRows(c.db, t.id)) }
  })

  api.delete(`${P}/:trust_id`, {
    schema: { params: TrustParams },
    config: {
      policy: 'identity:delete_trust',
      // An expired or used-up trust can still be deleted.
      target: async (req) => {
        const id = (req.params as { trust_id: string }).trust_id
        const t = await findTrust(c.db, id)
        if (!t) throw notFoundError('trust', id)
        return { trust: { trustor_user_id: t.trustor_user_id, trustee_user_id: t.trustee_user_id } }
      },
    },
  }, async (req, reply) => {
    await checkUnrestricted(req.ctx)
    const id = (req.params as { trust_id: string }).trust_id
    // Its roles and the trusts redelegated from it go by cascade; tokens issued through
    // any of them stop validating at their next render (validation re-reads the trust).
    await c.db.deleteFrom('trusts').where('id', '=', id).execute()
    c.changed()
    c.log.info({ trust: id }, 'trust deleted')
    reply.code(204).send()
  })

  api.get(`${P}/:trust_id/roles`, {
    schema: { params: TrustParams }, config: { policy: 'identity:list_roles_for_trust', target: usableTarget },
  }, async (req) => {
    const t = loaded.get(req)!
    const roles = trustView(req, t, await trustRoleRows(c.db, t.id)).roles
    return { roles, links: listLinks(req) }
  })

  api.get(`${P}/:trust_id/roles/:role_id`, {
    schema: { params: TrustRoleParams }, config: { policy: 'identity:get_role_for_trust', target: usableTarget },
  }, async (req) => {
    const t = loaded.get(req)!
    const roleId = (req.params as { role_id: string }).role_id
    if (!((await rolesOfTrusts(c.db, [t.id])).get(t.id) ?? []).includes(roleId)) throw notFoundError('role', roleId)
    const role = await getRole(c.db, roleId)
    return { role: (trustView(req, t, [role]).roles as unknown[])[0] }
  })
}
