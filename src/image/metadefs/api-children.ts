import { Type } from 'typebox'
import { isUniqueViolation } from '../../core/db/index.ts'
import { CloudError } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import { reqOf, rejectOthers } from '../api/common.ts'
import { type ImageCtx, nowIso } from '../context.ts'
import { isoTime } from '../model.ts'
import type { Kysely } from 'kysely'
import type { ImageSchema, MdNamespaceRow, MdObjectRow } from '../schema.ts'
import { checkAllowed, checkBody } from './schemas.ts'
import { checkUnprotected, enforceNs, insertUnique, loadNamespace, objectView } from './service.ts'

// What a namespace holds: /objects, /properties and /tags (metadef_objects.py,
// metadef_properties.py, metadef_tags.py). Every write goes through the namespace's policy.

const NsParams = Type.Object({ namespace: Type.String() })
const ChildParams = Type.Object({ namespace: Type.String(), name: Type.String() })
type Table = 'md_objects' | 'md_properties' | 'md_tags'

/** Renames or rewrites a child row; a clash with another child's name is a 409. */
async function updateChild(c: ImageCtx, table: Table, ns: MdNamespaceRow, name: string, set: object, dup: string): Promise<void> {
  try {
    await c.db.updateTable(table).set(set as any).where('namespace_id', '=', ns.id).where('name', '=', name).execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw new CloudError('Conflict', dup)
    throw err
  }
}

async function findChild<T extends Table>(c: ImageCtx, table: T, ns: MdNamespaceRow, name: string, what: string): Promise<ImageSchema[T]> {
  const row = await (c.db as unknown as Kysely<any>).selectFrom(table).selectAll().where('namespace_id', '=', ns.id).where('name', '=', name).executeTakeFirst()
  if (!row) throw new CloudError('NotFound', `Metadata definition ${what}=${name} was not found in namespace=${ns.namespace}.`)
  return row as ImageSchema[T]
}

const tagView = (t: { name: string; created_at: string; updated_at: string }) =>
  ({ name: t.name, created_at: isoTime(t.created_at), updated_at: isoTime(t.updated_at) })

/** Object, property and tag routes. */
export function namespaceChildRoutes(api: Api, c: ImageCtx): void {
  const base = '/v2/metadefs/namespaces/:namespace'
  const open = async (req: any, rule: string) => {
    const r = reqOf(c, req)
    const ns = await loadNamespace(c, r, req.params.namespace)
    enforceNs(r, rule, ns)
    return ns
  }

  // --- objects ---
  api.get(`${base}/objects`, { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req) => {
    const ns = await open(req, 'get_metadef_objects')
    const rows = await c.db.selectFrom('md_objects').selectAll().where('namespace_id', '=', ns.id).orderBy('created_at').orderBy('name').execute()
    return { objects: rows.map((o) => objectView(ns.namespace, o)), schema: '/v2/schemas/metadefs/objects' }
  })
  api.post(`${base}/objects`, { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const b = checkObject(req.body)
    const ns = await open(req, 'add_metadef_object')
    const now = nowIso(c)
    const row: MdObjectRow = { namespace_id: ns.id, name: b.name, description: b.description ?? null,
      required: JSON.stringify(b.required ?? []), properties: JSON.stringify(b.properties ?? {}), created_at: now, updated_at: now }
    await insertUnique(c.db, 'md_objects', row, `A metadata definition object with name=${b.name} already exists in namespace=${ns.namespace}.`)
    reply.code(201)
    return objectView(ns.namespace, row)
  })
  api.delete(`${base}/objects`, { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const ns = await open(req, 'delete_metadef_namespace')
    checkUnprotected(ns, `namespace ${ns.namespace}`)
    await c.db.deleteFrom('md_objects').where('namespace_id', '=', ns.id).execute()
    reply.code(204).send()
  })
  rejectOthers(api, `${base}/objects`, ['GET', 'POST', 'DELETE'])

  api.get(`${base}/objects/:name`, { schema: { params: ChildParams }, config: { selfPolicy: true } }, async (req) => {
    const ns = await open(req, 'get_metadef_object')
    return objectView(ns.namespace, await findChild(c, 'md_objects', ns, req.params.name, 'object'))
  })
  api.put(`${base}/objects/:name`, { schema: { params: ChildParams }, config: { selfPolicy: true } }, async (req) => {
    const b = checkObject(req.body)
    const ns = await open(req, 'modify_metadef_object')
    const old = await findChild(c, 'md_objects', ns, req.params.name, 'object')
    const next: MdObjectRow = { ...old, name: b.name, description: b.description ?? null, required: JSON.stringify(b.required ?? []),
      properties: JSON.stringify(b.properties ?? {}), updated_at: nowIso(c) }
    await updateChild(c, 'md_objects', ns, old.name, next, `A metadata definition object with name=${b.name} already exists in namespace=${ns.namespace}.`)
    return objectView(ns.namespace, next)
  })
  api.delete(`${base}/objects/:name`, { schema: { params: ChildParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const ns = await open(req, 'delete_metadef_object')
    await findChild(c, 'md_objects', ns, req.params.name, 'object')
    checkUnprotected(ns, `object ${req.params.name}`)
    await c.db.deleteFrom('md_objects').where('namespace_id', '=', ns.id).where('name', '=', req.params.name).execute()
    reply.code(204).send()
  })
  rejectOthers(api, `${base}/objects/:name`, ['GET', 'PUT', 'DELETE'])

  // --- properties ---
  api.get(`${base}/properties`, { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req) => {
    const ns = await open(req, 'get_metadef_properties')
    const rows = await c.db.selectFrom('md_properties').selectAll().where('namespace_id', '=', ns.id).orderBy('name').execute()
    return { properties: Object.fromEntries(rows.map((p) => [p.name, JSON.parse(p.schema)])) }
  })
  api.post(`${base}/properties`, { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const { name, ...schema } = checkBody('property', req.body) as { name: string }
    const ns = await open(req, 'add_metadef_property')
    const now = nowIso(c)
    await insertUnique(c.db, 'md_properties', { namespace_id: ns.id, name, schema: JSON.stringify(schema), created_at: now, updated_at: now },
      `A metadata definition property with name=${name} already exists in namespace=${ns.namespace}.`)
    reply.code(201)
    return { name, ...schema }
  })
  api.delete(`${base}/properties`, { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const ns = await open(req, 'delete_metadef_namespace')
    checkUnprotected(ns, `namespace ${ns.namespace}`)
    await c.db.deleteFrom('md_properties').where('namespace_id', '=', ns.id).execute()
    reply.code(204).send()
  })
  rejectOthers(api, `${base}/properties`, ['GET', 'POST', 'DELETE'])

  api.get(`${base}/properties/:name`, { schema: { params: ChildParams }, config: { selfPolicy: true } }, async (req) => {
    const ns = await open(req, 'get_metadef_property')
    const p = await findChild(c, 'md_properties', ns, req.params.name, 'property')
    return { name: p.name, ...JSON.parse(p.schema) }
  })
  api.put(`${base}/properties/:name`, { schema: { params: ChildParams }, config: { selfPolicy: true } }, async (req) => {
    const { name, ...schema } = checkBody('property', req.body) as { name: string }
    const ns = await open(req, 'modify_metadef_property')
    const old = await findChild(c, 'md_properties', ns, req.params.name, 'property')
    await updateChild(c, 'md_properties', ns, old.name, { name, schema: JSON.stringify(schema), updated_at: nowIso(c) },
      `A metadata definition property with name=${name} already exists in namespace=${ns.namespace}.`)
    return { name, ...schema }
  })
  api.delete(`${base}/properties/:name`, { schema: { params: ChildParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const ns = await open(req, 'remove_metadef_property')
    await findChild(c, 'md_properties', ns, req.params.name, 'property')
    checkUnprotected(ns, `property ${req.params.name}`)
    await c.db.deleteFrom('md_properties').where('namespace_id', '=', ns.id).where('name', '=', req.params.name).execute()
    reply.code(204).send()
  })
  rejectOthers(api, `${base}/properties/:name`, ['GET', 'PUT', 'DELETE'])

  // --- tags ---
  api.get(`${base}/tags`, { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req) => {
    const ns = await open(req, 'get_metadef_tags')
    const rows = await c.db.selectFrom('md_tags').selectAll().where('namespace_id', '=', ns.id).orderBy('created_at').orderBy('name').execute()
    return { tags: rows.map(tagView) }
  })
  api.post(`${base}/tags`, { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const raw = req.body as Record<string, unknown>
    if (raw && typeof raw === 'object') checkAllowed(raw, ['created_at', 'updated_at'])
    const b = checkBody('tags', raw) as { tags?: Array<{ name: string }> }
    const ns = await open(req, 'add_metadef_tags')
    const append = String((req.query as Record<string, unknown>).append ?? 'false').toLowerCase() === 'true'
    const now = nowIso(c)
    const names = (b.tags ?? []).map((t) => t.name)
    const dupe = names.find((n, i) => names.indexOf(n) !== i)
    if (dupe !== undefined) throw new CloudError('Conflict', `A metadata tag with name=${dupe} already exists in namespace=${ns.namespace}.`)
    await c.db.transaction().execute(async (tx) => {
      // Without ?append=true the list replaces the namespace's tags (Glance's create_tags).
      if (!append) await tx.deleteFrom('md_tags').where('namespace_id', '=', ns.id).execute()
      for (const name of names) {
        await insertUnique(tx, 'md_tags', { namespace_id: ns.id, name, created_at: now, updated_at: now },
          `A metadata tag with name=${name} already exists in namespace=${ns.namespace}.`)
      }
    })
    reply.code(201)
    return { tags: names.map((name) => ({ name })) }
  })
  api.delete(`${base}/tags`, { schema: { params: NsParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const ns = await open(req, 'delete_metadef_tags')
    checkUnprotected(ns, `namespace ${ns.namespace}`)
    await c.db.deleteFrom('md_tags').where('namespace_id', '=', ns.id).execute()
    reply.code(204).send()
  })
  rejectOthers(api, `${base}/tags`, ['GET', 'POST', 'DELETE'])

  api.get(`${base}/tags/:name`, { schema: { params: ChildParams }, config: { selfPolicy: true } }, async (req) => {
    const ns = await open(req, 'get_metadef_tag')
    return tagView(await findChild(c, 'md_tags', ns, req.params.name, 'tag'))
  })
  api.post(`${base}/tags/:name`, { schema: { params: ChildParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const ns = await open(req, 'add_metadef_tag')
    if (req.params.name.length > 80) throw new CloudError('BadRequest', "Provided object does not match schema 'tag': name must NOT have more than 80 characters")
    const now = nowIso(c)
    const row = { namespace_id: ns.id, name: req.params.name, created_at: now, updated_at: now }
    await insertUnique(c.db, 'md_tags', row, `A metadata tag with name=${row.name} already exists in namespace=${ns.namespace}.`)
    reply.code(201)
    return tagView(row)
  })
  api.put(`${base}/tags/:name`, { schema: { params: ChildParams }, config: { selfPolicy: true } }, async (req) => {
    const raw = req.body as Record<string, unknown>
    if (raw && typeof raw === 'object') checkAllowed(raw, ['created_at', 'updated_at'])
    const b = checkBody('tag', raw) as { name: string }
    const ns = await open(req, 'modify_metadef_tag')
    const old = await findChild(c, 'md_tags', ns, req.params.name, 'tag')
    const next = { ...old, name: b.name, updated_at: nowIso(c) }
    await updateChild(c, 'md_tags', ns, old.name, { name: b.name, updated_at: next.updated_at },
      `A metadata tag with name=${b.name} already exists in namespace=${ns.namespace}.`)
    return tagView(next)
  })
  api.delete(`${base}/tags/:name`, { schema: { params: ChildParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const ns = await open(req, 'delete_metadef_tag')
    await findChild(c, 'md_tags', ns, req.params.name, 'tag')
    checkUnprotected(ns, `tag ${req.params.name}`)
    await c.db.deleteFrom('md_tags').where('namespace_id', '=', ns.id).where('name', '=', req.params.name).execute()
    reply.code(204).send()
  })
  rejectOthers(api, `${base}/tags/:name`, ['GET', 'POST', 'PUT', 'DELETE'])
}

interface ObjectBody { name: string; description?: string; required?: string[]; properties?: Record<string, unknown> }

/** An object body: the object schema, and each of its properties against the property schema. */
function checkObject(body: unknown): ObjectBody {
  if (body && typeof body === 'object') checkAllowed(body as Record<string, unknown>)
  const b = checkBody('object', body) as unknown as ObjectBody
  for (const p of Object.values(b.properties ?? {})) checkBody('property-no-name', p)
  return b
}
