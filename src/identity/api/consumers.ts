import { randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { badRequest } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import { hashPassword } from '../passwords.ts'
import type { ConsumerRow } from '../schema.ts'
import { listLinks, newId, notFoundError, parseJson, selfLink } from './common.ts'

// `/v3/OS-OAUTH1/consumers` (keystone/api/os_oauth1.py): the registry of OAuth1 consumers.
// The secret is generated here, shown once in the create response and stored only as a
// scrypt hash. The OAuth1 request/access token flow is not implemented, so no route for it
// is registered (a client gets 404 there) and a consumer grants nothing yet.

// keystone/oauth1/schema.py: description is a string or null; other attributes are kept.
const Description = Type.Optional(Type.Union([Type.String(), Type.Null()]))
const ConsumerCreate = Type.Object({
  consumer: Type.Object({ description: Description }, { additionalProperties: true }),
})
const ConsumerUpdate = Type.Object({
  consumer: Type.Object({ description: Description }, { minProperties: 1, additionalProperties: true }),
})
const ConsumerParams = Type.Object({ consumer_id: Type.String({ minLength: 1, maxLength: 255 }) })

type Body = Record<string, unknown>
const COLUMNS = ['id', 'description', 'secret', 'links']

/** Keystone's `_normalize_dict`: ':' and '-' in attribute names become '_'. */
function normalize(o: Body): Body {
  const out: Body = {}
  for (const [k, v] of Object.entries(o)) out[k.replace(/[:-]/g, '_')] = v
  return out
}

function extraOf(body: Body): Body {
  const extra: Body = {}
  for (const [k, v] of Object.entries(body)) if (!COLUMNS.includes(k)) extra[k] = v
  return extra
}

/** A consumer as Keystone shows it; the secret never appears (only the create response adds it). */
export function consumerView(req: FastifyRequest, r: ConsumerRow) {
  return { ...parseJson(r.extra), id: r.id, description: r.description,
    links: selfLink(req, `/OS-OAUTH1/consumers/${r.id}`) }
}

async function load(c: IdentityCtx, id: string): Promise<ConsumerRow> {
  const row = await c.db.selectFrom('consumers').selectAll().where('id', '=', id).executeTakeFirst()
  if (!row) throw notFoundError('consumer', id)
  return row
}

export function consumerRoutes(api: Api, c: IdentityCtx): void {
  api.get('/v3/OS-OAUTH1/consumers', { config: { policy: 'identity:list_consumers' } }, async (req) => {
    const rows = await c.db.selectFrom('consumers').selectAll().orderBy('id').execute()
    return { consumers: rows.map((r) => consumerView(req, r)), links: listLinks(req) }
  })

  api.post('/v3/OS-OAUTH1/consumers', {
    schema: { body: ConsumerCreate }, config: { policy: 'identity:create_consumer' },
  }, async (req, reply) => {
    const body = normalize((req.body as { consumer: Body }).consumer)
    // A client-supplied id or secret is ignored: Keystone assigns both.
    const secret = randomBytes(16).toString('hex')
    const row: ConsumerRow = {
      id: newId(), description: (body.description as string | null | undefined) ?? '',
      secret_hash: await hashPassword(secret, c.config.scryptCost), extra: JSON.stringify(extraOf(body)),
    }
    await c.db.insertInto('consumers').values(row).execute()
    reply.code(201)
    return { consumer: { ...consumerView(req, row), secret } }
  })

  api.get('/v3/OS-OAUTH1/consumers/:consumer_id', {
    schema: { params: ConsumerParams }, config: { policy: 'identity:get_consumer' },
  }, async (req) => {
    const { consumer_id } = req.params as { consumer_id: string }
    return { consumer: consumerView(req, await load(c, consumer_id)) }
  })

  api.patch('/v3/OS-OAUTH1/consumers/:consumer_id', {
    schema: { params: ConsumerParams, body: ConsumerUpdate }, config: { policy: 'identity:update_consumer' },
  }, async (req) => {
    const { consumer_id } = req.params as { consumer_id: string }
    const raw = (req.body as { consumer: Body }).consumer
    // keystone/oauth1/schema.py consumer_update: `not: {required: [secret]}`.
    if ('secret' in raw) throw badRequest('Invalid input for field/attribute: consumer. The secret of a consumer cannot be updated.')
    const body = normalize(raw)
    if (body.id !== undefined && body.id !== null && body.id !== consumer_id) throw badRequest('Cannot change ID')
    const old = await load(c, consumer_id)
    const row: ConsumerRow = {
      ...old,
      description: 'description' in body ? ((body.description as string | null) ?? '') : old.description,
      extra: JSON.stringify({ ...parseJson(old.extra), ...extraOf(body) }),
    }
    await c.db.updateTable('consumers').set({ description: row.description, extra: row.extra })
      .where('id', '=', consumer_id).execute()
    return { consumer: consumerView(req, row) }
  })

  api.delete('/v3/OS-OAUTH1/consumers/:consumer_id', {
    schema: { params: ConsumerParams }, config: { policy: 'identity:delete_consumer' },
  }, async (req, reply) => {
    const { consumer_id } = req.params as { consumer_id: string }
    const r = await c.db.deleteFrom('consumers').where('id', '=', consumer_id).executeTakeFirst()
    if (Number(r.numDeletedRows) === 0) throw notFoundError('consumer', consumer_id)
    reply.code(204).send()
  })
}
