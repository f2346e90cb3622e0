import { randomUUID } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import { isUniqueViolation } from '../../core/db/index.ts'
import { CloudError } from '../../core/errors.ts'
import { type ImageCtx, type Req, nowIso } from '../context.ts'
import { isoTime } from '../model.ts'
import type { ImageSchema, MdNamespaceRow, MdObjectRow } from '../schema.ts'

// Metadata definitions (glance/api/v2/metadef_*.py, glance/db/sqlalchemy/metadef_api):
// namespaces that catalogue properties, objects and tags, associated with resource types.
// Reading follows the namespace's visibility; writing is for the admin (metadef_admin).

type Db = Kysely<ImageSchema> | Transaction<ImageSchema>
const notFound = (msg: string) => new CloudError('NotFound', msg)

/** A namespace's policy target (Glance's MetadefAPIPolicy._build_target). */
export function nsTarget(r: Req, ns?: MdNamespaceRow): Record<string, unknown> {
  if (!ns) return { project_id: r.auth.projectId }
  return { project_id: ns.owner, visibility: ns.visibility,
    open_to_project: ns.visibility === 'public' ? r.auth.projectId : undefined }
}

/**
 * Checks a metadef rule against a namespace; like Glance, a caller who may not even read the
 * namespace gets 404, not 403.
 */
export function enforceNs(r: Req, rule: string, ns: MdNamespaceRow): void {
  const t = nsTarget(r, ns)
  if (r.policy.check(rule, t)) return
  if (rule === 'get_metadef_namespace' || !r.policy.check('get_metadef_namespace', t)) {
    throw notFound(`Metadata definition namespace=${ns.namespace} was not found.`)
  }
  throw new CloudError('Forbidden', `You are not authorized to complete ${rule} action.`)
}

/** A namespace the caller may see, by name. */
export async function loadNamespace(c: ImageCtx, r: Req, name: string): Promise<MdNamespaceRow> {
  const ns = await c.db.selectFrom('md_namespaces').selectAll().where('namespace', '=', name).executeTakeFirst()
  const visible = ns && (r.caller.admin || ns.visibility === 'public' || (ns.owner !== null && ns.owner === r.caller.project))
  if (!ns || !visible) throw notFound(`Metadata definition namespace=${name} was not found.`)
  enforceNs(r, 'get_metadef_namespace', ns)
  return ns
}

/** Refuses changes to what a protected namespace holds (Glance's ProtectedMetadef*Delete). */
export function checkUnprotected(ns: MdNamespaceRow, what: string): void {
  if (Number(ns.protected) === 1) {
    throw new CloudError('Forbidden', `Metadata definition ${what} is protected and cannot be deleted.`)
  }
}

// --- views ----------------------------------------------------------------------------------

const times = (r: { created_at: string; updated_at: string }) => ({ created_at: isoTime(r.created_at), updated_at: isoTime(r.updated_at) })
/** Drops absent attributes, as Glance's WSME rendering does. */
const present = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined))

/** A namespace's own attributes, as Glance renders them. */
export function namespaceView(ns: MdNamespaceRow): Record<string, unknown> {
  return present({ namespace: ns.namespace, display_name: ns.display_name, description: ns.description,
    visibility: ns.visibility, protected: Number(ns.protected) === 1, owner: ns.owner, ...times(ns),
    self: `/v2/metadefs/namespaces/${ns.namespace}`, schema: '/v2/schemas/metadefs/namespace' })
}

/** An object definition, as Glance renders it. */
export function objectView(ns: string, o: MdObjectRow): Record<string, unknown> {
  const required = JSON.parse(o.required) as string[]
  const properties = JSON.parse(o.properties) as Record<string, unknown>
  return present({ name: o.name, description: o.description, required: required.length ? required : undefined,
    properties: Object.keys(properties).length ? properties : undefined, ...times(o),
    self: `/v2/metadefs/namespaces/${ns}/objects/${o.name}`, schema: '/v2/schemas/metadefs/object' })
}

// --- writes ---------------------------------------------------------------------------------

/** Inserts child rows of a namespace; a duplicate name is Glance's 409 with `dup` as message. */
export async function insertUnique<T extends 'md_properties' | 'md_objects' | 'md_tags' | 'md_namespace_resource_types'>(
  db: Db, table: T, row: ImageSchema[T], dup: string): Promise<void> {
  try {
    await db.insertInto(table).values(row as any).execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw new CloudError('Conflict', dup)
    throw err
  }
}

/** Associates a resource type with a namespace, creating the type when it is new (as Glance does). */
export async function associate(db: Db, ns: MdNamespaceRow, a: { name: string; prefix?: string; properties_target?: string }, now: string): Promise<Record<string, unknown>> {
  await db.insertInto('md_resource_types').values({ name: a.name, protected: 0, created_at: now, updated_at: now })
    .onConflict((oc) => oc.column('name').doNothing()).execute()
  const row = { namespace_id: ns.id, resource_type: a.name, prefix: a.prefix ?? null, properties_target: a.properties_target ?? null,
    created_at: now, updated_at: now }
  await insertUnique(db, 'md_namespace_resource_types', row,
    `The metadata definition resource-type association of resource-type=${a.name} to namespace=${ns.namespace} already exists.`)
  return present({ name: a.name, prefix: row.prefix, properties_target: row.properties_target, ...times(row) })
}

/** POST /v2/metadefs/namespaces, with any nested properties, objects, tags and associations. */
export async function createNamespace(c: ImageCtx, r: Req, b: Record<string, any>): Promise<Record<string, unknown>> {
  r.policy.enforce('add_metadef_namespace', nsTarget(r))
  const now = nowIso(c)
  const ns: MdNamespaceRow = { id: randomUUID(), namespace: b.namespace, display_name: b.display_name ?? null,
    description: b.description ?? null, visibility: b.visibility ?? 'private', protected: b.protected ? 1 : 0,
    owner: b.owner ?? r.auth.projectId ?? null, created_at: now, updated_at: now }
  const view = await c.db.transaction().execute(async (tx) => {
    try { await tx.insertInto('md_namespaces').values(ns).execute() } catch (err) {
      if (isUniqueViolation(err)) throw new CloudError('Conflict', `A metadata definition namespace with name=${ns.namespace} already exists.`)
      throw err
    }
    const v: Record<string, unknown> = namespaceView(ns)
    if (b.resource_type_associations?.length) {
      v.resource_type_associations = []
      for (const a of b.resource_type_associations) (v.resource_type_associations as unknown[]).push(await associate(tx, ns, a, now))
    }
    if (b.properties && Object.keys(b.properties).length) {
      for (const [name, schema] of Object.entries(b.properties)) {
        await insertUnique(tx, 'md_properties', { namespace_id: ns.id, name, schema: JSON.stringify(schema), created_at: now, updated_at: now },
          `A metadata definition property with name=${name} already exists in namespace=${ns.namespace}.`)
      }
      v.properties = b.properties
    }
    if (b.objects?.length) {
      v.objects = []
      for (const o of b.objects) {
        const row: MdObjectRow = { namespace_id: ns.id, name: o.name, description: o.description ?? null,
          required: JSON.stringify(o.required ?? []), properties: JSON.stringify(o.properties ?? {}), created_at: now, updated_at: now }
        await insertUnique(tx, 'md_objects', row, `A metadata definition object with name=${o.name} already exists in namespace=${ns.namespace}.`)
        ;(v.objects as unknown[]).push(objectView(ns.namespace, row))
      }
    }
    if (b.tags?.length) {
      for (const t of b.tags) {
        await insertUnique(tx, 'md_tags', { namespace_id: ns.id, name: t.name, created_at: now, updated_at: now },
          `A metadata tag with name=${t.name} already exists in namespace=${ns.namespace}.`)
      }
      v.tags = b.tags.map((t: { name: string }) => ({ name: t.name }))
    }
    return v
  })
  return view
}

/** GET /v2/metadefs/namespaces/{ns}: the namespace with everything it holds. */
export async function namespaceDetail(c: ImageCtx, ns: MdNamespaceRow): Promise<Record<string, unknown>> {
  const v = namespaceView(ns)
  const assoc = await associations(c.db, ns.id)
  if (assoc.length) v.resource_type_associations = assoc
  const props = await c.db.selectFrom('md_properties').selectAll().where('namespace_id', '=', ns.id).orderBy('name').execute()
  if (props.length) v.properties = Object.fromEntries(props.map((p) => [p.name, JSON.parse(p.schema)]))
  const objects = await c.db.selectFrom('md_objects').selectAll().where('namespace_id', '=', ns.id).orderBy('name').execute()
  if (objects.length) v.objects = objects.map((o) => objectView(ns.namespace, o))
  const tags = await c.db.selectFrom('md_tags').select('name').where('namespace_id', '=', ns.id).orderBy('name').execute()
  if (tags.length) v.tags = tags.map((t) => ({ name: t.name }))
  return v
}

/** The resource types associated with a namespace. */
export async function associations(db: Db, namespaceId: string): Promise<Record<string, unknown>[]> {
  const rows = await db.selectFrom('md_namespace_resource_types').selectAll().where('namespace_id', '=', namespaceId)
    .orderBy('resource_type').execute()
  return rows.map((a) => present({ name: a.resource_type, prefix: a.prefix, properties_target: a.properties_target, ...times(a) }))
}
