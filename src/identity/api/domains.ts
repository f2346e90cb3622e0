import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { CloudError, badRequest } from '../../core/errors.ts'
import { isUniqueViolation } from '../../core/db/index.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import { deleteDomainContents } from '../projects-store.ts'
import type { DomainRow } from '../schema.ts'
import { listLinks, newId, notFoundError, parseJson, queryBool } from './common.ts'
import {
  NullableString, type OptionsIn, Options, ResourceName, Tags, checkImmutableDelete, checkImmutableUpdate,
  domainConflict, extrasOf, mergeOptions, normalizeTags,
} from './resource-common.ts'
import { domainView } from './views.ts'

// /v3/domains (keystone/api/domains.py). Keystone stores a domain as a project acting as a
// domain; Cumulo keeps domains in their own table, and the projects API reaches them too
// (projects.ts), through the create/update/delete functions exported here.

const DOMAIN_KEYS = ['id', 'name', 'description', 'enabled', 'tags', 'options', 'explicit_domain_id'] as const

const DomainCreate = Type.Object({
  domain: Type.Object({
    name: ResourceName,
    description: Type.Optional(NullableString),
    enabled: Type.Optional(Type.Boolean()),
    tags: Type.Optional(Tags),
    options: Type.Optional(Options),
    explicit_domain_id: Type.Optional(Type.String()),
  }),
}, { additionalProperties: false })

const DomainUpdate = Type.Object({
  domain: Type.Object({
    name: Type.Optional(ResourceName),
    description: Type.Optional(NullableString),
    enabled: Type.Optional(Type.Boolean()),
    tags: Type.Optional(Tags),
    options: Type.Optional(Options),
  }, { minProperties: 1 }),
}, { additionalProperties: false })

const DomainListQuery = Type.Object({
  name: Type.Optional(Type.String()),
  enabled: Type.Optional(Type.String()),
})

const IdParam = Type.Object({ domain_id: Type.String({ minLength: 1, maxLength: 255 }) })

/** What a domain is created from, whichever API asked. */
export interface DomainInput {
  id?: string
  name: string
  description?: string | null
  enabled?: boolean
  tags?: string[]
  options?: OptionsIn
  extra: Record<string, unknown>
}

/** Creates a domain; 409 when its name or id is taken (by a domain or a project). */
export async function createDomain(c: IdentityCtx, d: DomainInput): Promise<DomainRow> {
  const id = d.id ?? newId()
  const name = d.name.trim()
  if (d.id && await c.db.selectFrom('projects').select('id').where('id', '=', d.id).executeTakeFirst()) {
    throw new CloudError('Conflict', `Conflict occurred attempting to store project - Duplicate ID, ${d.id}.`)
  }
  const row: DomainRow = {
    id, name, description: d.description ?? '', enabled: d.enabled === false ? 0 : 1,
    extra: JSON.stringify({ ...d.extra, tags: normalizeTags(d.tags ?? []), options: mergeOptions({}, d.options) }),
    created_at: new Date(c.clock.now()).toISOString(),
  }
  try {
    await c.db.insertInto('domains').values(row).execute()
  } catch (err) {
    if (!isUniqueViolation(err)) throw err
    const byId = await c.db.selectFrom('domains').select('id').where('id', '=', id).executeTakeFirst()
    throw byId ? new CloudError('Conflict', `Conflict occurred attempting to store project - Duplicate ID, ${id}.`)
      : domainConflict(name)
  }
  c.changed()
  return row
}

/**
 * Updates a domain from the attributes given (name, description, enabled, tags, options,
 * extra attributes). Disabling a domain revokes every token of its users and projects.
 */
export async function updateDomain(c: IdentityCtx, cur: DomainRow, body: Record<string, unknown>, known: readonly string[]): Promise<DomainRow> {
  const extra = parseJson(cur.extra)
  const options = (extra.options as Record<string, unknown> | undefined) ?? {}
  checkImmutableUpdate('domain', cur.id, options, body)
  const next: DomainRow = { ...cur }
  if (typeof body.name === 'string') next.name = body.name.trim()
  if (body.description !== undefined) next.description = (body.description as string | null) ?? ''
  if (typeof body.enabled === 'boolean') next.enabled = body.enabled ? 1 : 0
  const newExtra = { ...extra, ...extrasOf(body, known, false) }
  if (body.tags !== undefined) newExtra.tags = normalizeTags(body.tags as string[])
  if (body.options !== undefined) newExtra.options = mergeOptions(options, body.options as OptionsIn)
  next.extra = JSON.stringify(newExtra)
  try {
    await c.db.updateTable('domains').set({ name: next.name, description: next.description, enabled: next.enabled, extra: next.extra })
      .where('id', '=', cur.id).execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw domainConflict(next.name)
    throw err
  }
  if (cur.enabled && !next.enabled) await c.revocations.revoke({ domainId: cur.id })
  c.changed()
  return next
}

/**
 * Deletes a disabled domain and everything it owns (Keystone insists on disabling first so
 * nobody deletes a domain by accident, or their own while holding a token for it).
 */
export async function deleteDomain(c: IdentityCtx, cur: DomainRow): Promise<void> {
  checkImmutableDelete('domain', cur.id, (parseJson(cur.extra).options as Record<string, unknown> | undefined) ?? {})
  if (cur.enabled) throw new CloudError('Forbidden', 'Cannot delete a domain that is enabled, please disable it first.')
  await c.db.transaction().execute((trx) => deleteDomainContents(trx, cur.id))
  await c.revocations.revoke({ domainId: cur.id })
  c.changed()
}

/** The domain a route addresses, loaded once for the policy target and the handler. */
const loaded = new WeakMap<FastifyRequest, DomainRow | undefined>()
async function load(c: IdentityCtx, req: FastifyRequest): Promise<DomainRow | undefined> {
  if (!loaded.has(req)) {
    const id = (req.params as { domain_id: string }).domain_id
    loaded.set(req, await c.db.selectFrom('domains').selectAll().where('id', '=', id).executeTakeFirst())
  }
  return loaded.get(req)
}
async function mustLoad(c: IdentityCtx, req: FastifyRequest): Promise<DomainRow> {
  const d = await load(c, req)
  if (!d) throw notFoundError('domain', (req.params as { domain_id: string }).domain_id)
  return d
}

export function domainRoutes(api: Api, c: IdentityCtx): void {
  api.post('/v3/domains', { schema: { body: DomainCreate }, config: { policy: 'identity:create_domain' } }, async (req, reply) => {
    const d = req.body.domain as typeof req.body.domain & Record<string, unknown>
    if (d.explicit_domain_id !== undefined && !/^[0-9a-f]{32}$/.test(d.explicit_domain_id)) {
      throw badRequest('Domain ID does not conform to required UUID format.')
    }
    const row = await createDomain(c, {
      id: d.explicit_domain_id, name: d.name, description: d.description, enabled: d.enabled,
      tags: d.tags, options: d.options, extra: extrasOf(d, DOMAIN_KEYS, true),
    })
    reply.code(201)
    return { domain: domainView(req, row) }
  })

  api.get('/v3/domains', {
    schema: { querystring: DomainListQuery },
    config: {
      policy: 'identity:list_domains',
      target: (req) => (req.ctx.domainId ? { domain: { id: req.ctx.domainId } } : {}),
    },
  }, async (req) => {
    const q = req.query
    let sel = c.db.selectFrom('domains').selectAll()
    if (q.name !== undefined) sel = sel.where('name', '=', q.name)
    if (q.enabled !== undefined) sel = sel.where('enabled', '=', (queryBool(q.enabled) ?? true) ? 1 : 0)
    // A domain-scoped caller sees only its own domain (Keystone filters the same way).
    if (req.ctx.domainId) sel = sel.where('id', '=', req.ctx.domainId)
    const rows = await sel.orderBy('name').execute()
    return { domains: rows.map((d) => domainView(req, d)), links: listLinks(req) }
  })

  api.get('/v3/domains/:domain_id', {
    schema: { params: IdParam },
    config: {
      policy: 'identity:get_domain',
      target: async (req) => {
        const d = await load(c, req)
        return d ? { domain: { id: d.id } } : {}
      },
    },
  }, async (req) => ({ domain: domainView(req, await mustLoad(c, req)) }))

  api.patch('/v3/domains/:domain_id', {
    schema: { params: IdParam, body: DomainUpdate },
    config: { policy: 'identity:update_domain' },
  }, async (req) => {
    const cur = await mustLoad(c, req)
    const body = req.body.domain as Record<string, unknown>
    if (body.id !== undefined && body.id !== cur.id) throw badRequest('Cannot change ID')
    const row = await updateDomain(c, cur, body, DOMAIN_KEYS)
    return { domain: domainView(req, row) }
  })

  api.delete('/v3/domains/:domain_id', {
    schema: { params: IdParam },
    config: { policy: 'identity:delete_domain' },
  }, async (req, reply) => {
    await deleteDomain(c, await mustLoad(c, req))
    reply.code(204).send()
  })
}
