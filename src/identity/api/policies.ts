import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { badRequest } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import type { PolicyRow } from '../schema.ts'
import { listLinks, newId, notFoundError, parseJson, selfLink } from './common.ts'

// `/v3/policies`: Keystone's store of opaque policy blobs (keystone/api/policy.py). Keystone
// never enforces them, nor does Cumulo: a blob is data that a service may fetch. The
// OS-ENDPOINT-POLICY associations are not implemented.

const COLUMNS = ['id', 'type', 'blob', 'links'] as const

// keystone/policy/schema.py: blob and type are checked, other attributes are kept as extra.
const PolicyProps = {
  blob: Type.String(),
  type: Type.String({ maxLength: 255 }),
}
const PolicyCreate = Type.Object({
  policy: Type.Object(PolicyProps, { additionalProperties: true }),
})
const PolicyUpdate = Type.Object({
  policy: Type.Object({ blob: Type.Optional(PolicyProps.blob), type: Type.Optional(PolicyProps.type) },
    { minProperties: 1, additionalProperties: true }),
})
const PolicyParams = Type.Object({ policy_id: Type.String({ minLength: 1, maxLength: 255 }) })
const PolicyQuery = Type.Object({ type: Type.Optional(Type.String()) })

type Body = Record<string, unknown>

/** Keystone's `_normalize_dict`: ':' and '-' in attribute names become '_'. */
function normalize(o: Body): Body {
  const out: Body = {}
  for (const [k, v] of Object.entries(o)) out[k.replace(/[:-]/g, '_')] = v
  return out
}

function extraOf(body: Body): Body {
  const extra: Body = {}
  for (const [k, v] of Object.entries(body)) if (!(COLUMNS as readonly string[]).includes(k)) extra[k] = v
  return extra
}

/** A policy as Keystone shows it: its extra attributes, then the columns. */
export function policyView(req: FastifyRequest, p: PolicyRow) {
  return { ...parseJson(p.extra), id: p.id, type: p.type, blob: p.blob, links: selfLink(req, `/policies/${p.id}`) }
}

async function load(c: IdentityCtx, id: string): Promise<PolicyRow> {
  const row = await c.db.selectFrom('policies').selectAll().where('id', '=', id).executeTakeFirst()
  if (!row) throw notFoundError('policy', id)
  return row
}

export function policyRoutes(api: Api, c: IdentityCtx): void {
  api.get('/v3/policies', {
    schema: { querystring: PolicyQuery }, config: { policy: 'identity:list_policies' },
  }, async (req) => {
    const { type } = req.query as { type?: string }
    let q = c.db.selectFrom('policies').selectAll()
    if (type !== undefined) q = q.where('type', '=', type)
    const rows = await q.orderBy('id').execute()
    return { policies: rows.map((p) => policyView(req, p)), links: listLinks(req) }
  })

  api.post('/v3/policies', {
    schema: { body: PolicyCreate }, config: { policy: 'identity:create_policy' },
  }, async (req, reply) => {
    // A client-supplied id is ignored, as Keystone's _assign_unique_id does.
    const body = normalize((req.body as { policy: Body }).policy)
    const row: PolicyRow = {
      id: newId(), type: body.type as string, blob: body.blob as string, extra: JSON.stringify(extraOf(body)),
    }
    await c.db.insertInto('policies').values(row).execute()
    reply.code(201)
    return { policy: policyView(req, row) }
  })

  api.get('/v3/policies/:policy_id', {
    schema: { params: PolicyParams }, config: { policy: 'identity:get_policy' },
  }, async (req) => {
    const { policy_id } = req.params as { policy_id: string }
    return { policy: policyView(req, await load(c, policy_id)) }
  })

  api.patch('/v3/policies/:policy_id', {
    schema: { params: PolicyParams, body: PolicyUpdate }, config: { policy: 'identity:update_policy' },
  }, async (req) => {
    const { policy_id } = req.params as { policy_id: string }
    const body = (req.body as { policy: Body }).policy
    if (body.id !== undefined && body.id !== policy_id) throw badRequest('Cannot change policy ID')
    const old = await load(c, policy_id)
    // Keystone merges the update into the stored dict: extra attributes accumulate.
    const extra = { ...parseJson(old.extra), ...extraOf(body) }
    const row: PolicyRow = {
      id: old.id,
      type: (body.type as string | undefined) ?? old.type,
      blob: (body.blob as string | undefined) ?? old.blob,
      extra: JSON.stringify(extra),
    }
    await c.db.updateTable('policies').set({ type: row.type, blob: row.blob, extra: row.extra })
      .where('id', '=', policy_id).execute()
    return { policy: policyView(req, row) }
  })

  api.delete('/v3/policies/:policy_id', {
    schema: { params: PolicyParams }, config: { policy: 'identity:delete_policy' },
  }, async (req, reply) => {
    const { policy_id } = req.params as { policy_id: string }
    const r = await c.db.deleteFrom('policies').where('id', '=', policy_id).executeTakeFirst()
    if (Number(r.numDeletedRows) === 0) throw notFoundError('policy', policy_id)
    reply.code(204).send()
  })
}
