import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { isUniqueViolation } from '../../core/db/index.ts'
import { CloudError } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import { reqOf, rejectOthers } from '../api/common.ts'
import { type ImageCtx, nowIso } from '../context.ts'
import { isoTime } from '../model.ts'
import { checkAllowed, checkBody } from './schemas.ts'
import {
  associate, associations, checkUnprotected, createNamespace, enforceNs, loadNamespace, namespaceDetail, namespaceView, nsTarget,
} from './service.ts'

// /v2/metadefs/namespaces[/{namespace}] and resource types (metadef_namespaces.py,
// metadef_resource_types.py).

const NsParams = Type.Object({ namespace: Type.String() })
const RtParams = Type.Object({ namespace: Type.String(), name: Type.String() })
const bad = (msg: string) => new CloudError('BadRequest', msg)

function pagingOf(req: FastifyRequest, c: ImageCtx): { limit: number; marker?: string; dir: 'asc' | 'desc'; visibility?: string; resourceTypes?: string[] } {
  const q = req.query as Record<string, string | undefined>
  let limit = c.config.limitDefault
  if (q.limit !== undefined) {
    if (!/^-?\d+$/.test(q.limit)) throw bad('limit param must be an integer')
    limit = Number(q.limit)
    if (limit < 0) throw bad('limit param must be positive')
    limit = Math.min(limit, c.config.limitMax)
  }
  const dir = q.sort_dir ?? 'desc'
  if (dir !== 'asc' && dir !== 'desc') throw bad(`Invalid sort direction: ${dir}`)
  if (q.visibility !== undefined && !['public', 'private'].includes(q.visibility)) throw bad(`Invalid visibility value: ${q.visibility}`)
  return { limit, marker: q.marker, dir, visibility: q.visibility, resourceTypes: q.resource_types?.split(',').map((s) => s.trim()) }
}

/** Namespace and resource-type routes. */
export function namespaceRoutes(api: Api, c: ImageCtx): void {
  api.get('/v2/metadefs/namespaces', { config: { selfPolicy: true } }, async (req) => {
    const r = reqOf(c, req)
    r.policy.enforce('get_metadef_namespaces', nsTarget(r))
    r.policy.enforce('list_metadef_resource_types', nsTarget(r))
    const p = pagingOf(req, c)
    let q = c.db.selectFrom('md_namespaces').selectAll()
    if (!r.caller.admin) {
      q = q.where((eb) => eb.or([eb('visibility', '=', 'public'), eb('owner', '=', r.caller.project ?? '')]))
    }
    if (p.visibility) q = q.where('visibility', '=', p.visibility)
    if (p.resourceTypes) {
      q = q.where((eb) => eb.exists(eb.selectFrom('md_namespace_resource_types as a').select('a.namespace_id')
        .whereRef('a.namespace_id', '=', 'md_namespaces.id').where('a.resource_type', 'in', p.resourceTypes!)))
    }
    if (p.marker) {
      const m = await loadNamespace(c, r, p.marker)
      const op = p.dir === 'asc' ? '>' : '<'
      q = q.where((eb) => eb.or([eb('created_at', op, m.created_at), eb.and([eb('created_at', '=', m.created_at), eb('id', op, m.id)])]))
    }
    const rows = await q.orderBy('created_at', p.dir).orderBy('id', p.dir).limit(p.limit).execute()
    const namespaces = []
    for (const ns of rows) {
      const v = namespaceView(ns)
      const a = await associations(c.db, ns.id)
      if (a.length) v.resource_type_associations = a
      namespaces.push(v)
    }
    const body: Record<string, unknown> = { namespaces, first: '/v2/metadefs/namespaces', schema: '/v2/schemas/metadefs/namespaces' }
    if (rows.length && rows.length === p.limit) body.next = `/v2/metadefs/namespaces?marker=${encodeURIComponent(rows[rows.length - 1]!.namespace)}`
    return body
  })

  api.post('/v2/metadefs/namespaces', { config: { selfPolicy: true } }, async (req, reply) => {
    const r = reqOf(c, req)
    const raw = req.body as Record<string, unknown>
    if (raw && typeof raw === 'object') checkAllowed(raw)
    const b = checkBody('namespace', raw)
    const view = await createNamespace(c, r, b)
    reply.code(201).header('location', `/v2/metadefs/namespaces/${b.namespace as string}`)
    return view
  })
  rejectOthers(api, '/v2/metadefs/namespaces', ['GET', 'POST'])

  api.get('/v2/metadefs/namespaces/:namespace', { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req) => {
    const r = reqOf(c, req)
    const ns = await loadNamespace(c, r, req.params.namespace)
    for (const rule of ['list_metadef_resource_types', 'get_metadef_objects', 'get_metadef_properties', 'get_metadef_tags']) enforceNs(r, rule, ns)
    return namespaceDetail(c, ns)
  })

  api.put('/v2/metadefs/namespaces/:namespace', { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req) => {
    const r = reqOf(c, req)
    const raw = req.body as Record<string, unknown>
    if (raw && typeof raw === 'object') checkAllowed(raw)
    const b = checkBody('namespace', raw)
    const ns = await loadNamespace(c, r, req.params.namespace).catch(() => {
      throw new CloudError('NotFound', `Namespace ${req.params.namespace} not found`)
    })
    enforceNs(r, 'modify_metadef_namespace', ns)
    // PUT replaces the namespace's own attributes (what it holds is managed separately).
    const next = { ...ns, namespace: b.namespace as string, display_name: (b.display_name as string) ?? null,
      description: (b.description as string) ?? null, visibility: (b.visibility as string) || 'private',
      protected: b.protected ? 1 : 0, owner: (b.owner as string) || r.auth.projectId || null, updated_at: nowIso(c) }
    try {
      await c.db.updateTable('md_namespaces').set(next).where('id', '=', ns.id).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw new CloudError('Conflict', `A metadata definition namespace with name=${next.namespace} already exists.`)
      throw err
    }
    return namespaceView(next)
  })

  api.delete('/v2/metadefs/namespaces/:namespace', { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const r = reqOf(c, req)
    const ns = await loadNamespace(c, r, req.params.namespace).catch(() => {
      throw new CloudError('NotFound', `Namespace ${req.params.namespace} not found`)
    })
    enforceNs(r, 'delete_metadef_namespace', ns)
    checkUnprotected(ns, `namespace ${ns.namespace}`)
    await c.db.deleteFrom('md_namespaces').where('id', '=', ns.id).execute()
    reply.code(204).send()
  })
  rejectOthers(api, '/v2/metadefs/namespaces/:namespace', ['GET', 'PUT', 'DELETE'])

  // Resource types.
  api.get('/v2/metadefs/resource_types', { config: { selfPolicy: true } }, async (req) => {
    const r = reqOf(c, req)
    r.policy.enforce('list_metadef_resource_types', nsTarget(r))
    const rows = await c.db.selectFrom('md_resource_types').selectAll().orderBy('name').execute()
    return { resource_types: rows.map((t) => ({ name: t.name, created_at: isoTime(t.created_at), updated_at: isoTime(t.updated_at) })) }
  })
  rejectOthers(api, '/v2/metadefs/resource_types', ['GET'])

  api.get('/v2/metadefs/namespaces/:namespace/resource_types', { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req) => {
    const r = reqOf(c, req)
    const ns = await loadNamespace(c, r, req.params.namespace)
    enforceNs(r, 'get_metadef_resource_type', ns)
    return { resource_type_associations: await associations(c.db, ns.id) }
  })
  api.post('/v2/metadefs/namespaces/:namespace/resource_types', { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const r = reqOf(c, req)
    const raw = req.body as Record<string, unknown>
    if (raw && typeof raw === 'object') checkAllowed(raw, ['created_at', 'updated_at'])
    const b = checkBody('resource_type', raw) as { name: string; prefix?: string; properties_target?: string }
    const ns = await loadNamespace(c, r, req.params.namespace)
    enforceNs(r, 'add_metadef_resource_type_association', ns)
    reply.code(201)
    return associate(c.db, ns, b, nowIso(c))
  })
  rejectOthers(api, '/v2/metadefs/namespaces/:namespace/resource_types', ['GET', 'POST'])

  api.delete('/v2/metadefs/namespaces/:namespace/resource_types/:name', { schema: { params: RtParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const r = reqOf(c, req)
    const ns = await loadNamespace(c, r, req.params.namespace)
    enforceNs(r, 'remove_metadef_resource_type_association', ns)
    checkUnprotected(ns, `resource-type-association ${req.params.name}`)
    const res = await c.db.deleteFrom('md_namespace_resource_types').where('namespace_id', '=', ns.id)
      .where('resource_type', '=', req.params.name).executeTakeFirst()
    if (Number(res.numDeletedRows) === 0) {
      throw new CloudError('NotFound', `The metadata definition resource-type association of resource-type=${req.params.name} to namespace=${ns.namespace}, was not found.`)
    }
    reply.code(204).send()
  })
  rejectOthers(api, '/v2/metadefs/namespaces/:namespace/resource_types/:name', ['DELETE'])
}
