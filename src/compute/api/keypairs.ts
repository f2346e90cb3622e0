import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { bodyOf } from '../../core/http/app.ts'
import type { ComputeCtx } from '../context.ts'
import type { KeyPair, KeyPairService } from '../keypairs.ts'
import { atLeast } from '../microversion.ts'
import { checkQueryKeys, deny, limitAndMarker, nextLinks, queryOf, validateBody } from './common.ts'

// Key pairs (nova/api/openstack/compute/keypairs.py, schemas/keypairs.py, views/keypairs.py).
// 2.2: `type` (ssh/x509), 201 on create and 204 on delete; 2.10: `user_id` (admins act for
// other users); 2.35: limit/marker paging.

const NAME = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?!\\s)[^\\x00-\\x1F\\x7F]*(?<!\\s)$' }
function createSchema(req: FastifyRequest) {
  const props: Record<string, unknown> = { name: NAME, public_key: { type: 'string' } }
  if (atLeast(req, '2.2')) props.type = { type: 'string', enum: ['ssh', 'x509'] }
  if (atLeast(req, '2.10')) props.user_id = { type: 'string' }
  return {
    type: 'object', required: ['keypair'], additionalProperties: false,
    properties: { keypair: { type: 'object', required: ['name'], additionalProperties: false, properties: props } },
  }
}
const schemas = new Map<string, object>()
function schemaFor(req: FastifyRequest): object {
  const k = atLeast(req, '2.10') ? '2.10' : atLeast(req, '2.2') ? '2.2' : '2.1'
  let s = schemas.get(k)
  if (!s) { s = createSchema(req); schemas.set(k, s) }
  return s
}

export function keypairRoutes(api: Api, c: ComputeCtx, keypairs: KeyPairService, P: string): void {
  /** The user a request is about: `user_id` (2.10+, admins) or the caller; the rule is checked against it. */
  function owner(req: FastifyRequest, rule: string, given?: string): string {
    const userId = atLeast(req, '2.10') && given ? given : req.ctx.userId
    if (!c.policy.check(rule, req.ctx, { user_id: userId })) throw deny(rule)
    return userId
  }
  const withType = (req: FastifyRequest, k: KeyPair) => (atLeast(req, '2.2') ? { type: k.type } : {})

  api.post(`${P}/os-keypairs`, {
    config: { selfPolicy: true },
    preValidation: async (req) => validateBody(req, schemaFor(req)),
  }, async (req, reply) => {
    const b = bodyOf<{ keypair: { name: string; public_key?: string; type?: 'ssh' | 'x509'; user_id?: string } }>(req).keypair
    const userId = owner(req, 'os_compute_api:os-keypairs:create', b.user_id)
    const k = await keypairs.create({ userId, projectId: req.ctx.projectId ?? '', name: b.name, type: b.type ?? 'ssh', publicKey: b.public_key })
    if (atLeast(req, '2.2')) reply.code(201)
    return {
      keypair: {
        name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, user_id: k.userId, ...withType(req, k),
        ...(k.privateKey ? { private_key: k.privateKey } : {}),
      },
    }
  })

  api.get(`${P}/os-keypairs`, { config: { selfPolicy: true } }, async (req) => {
    const q = queryOf(req)
    const paged = atLeast(req, '2.35')
    checkQueryKeys(req, q, ['user_id', ...(paged ? ['limit', 'marker'] : [])], '2.75')
    const userId = owner(req, 'os_compute_api:os-keypairs:index', q.user_id)
    const page = paged ? limitAndMarker(q) : undefined
    const found = await keypairs.list(userId, page ? { limit: page.limit, marker: page.marker } : {})
    const next = page ? nextLinks(req, 'os-keypairs', q, page, found.length, found.at(-1)?.name) : undefined
    return {
      keypairs: found.map((k) => ({ keypair: { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, ...withType(req, k) } })),
      ...(next ? { keypairs_links: next } : {}),
    }
  })

  api.get(`${P}/os-keypairs/:name`, { config: { selfPolicy: true } }, async (req) => {
    const q = queryOf(req)
    const userId = owner(req, 'os_compute_api:os-keypairs:show', q.user_id)
    const k = await keypairs.get(userId, (req.params as { name: string }).name)
    return {
      keypair: {
        id: k.id, name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, user_id: k.userId, ...withType(req, k),
        created_at: k.createdAt, updated_at: null, deleted: false, deleted_at: null,
      },
    }
  })

  api.delete(`${P}/os-keypairs/:name`, { config: { selfPolicy: true } }, async (req, reply) => {
    const q = queryOf(req)
    const userId = owner(req, 'os_compute_api:os-keypairs:delete', q.user_id)
    await keypairs.delete(userId, (req.params as { name: string }).name)
    reply.code(atLeast(req, '2.2') ? 204 : 202)
    return reply.send()
  })
}
