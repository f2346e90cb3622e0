import { type Expression, type ExpressionBuilder, type Kysely, type SqlBool, type Transaction, sql } from 'kysely'
import type { Image, ImageStatus, Visibility } from './model.ts'
import type { ImageRow, ImageSchema } from './schema.ts'

// Reads and writes image rows with their properties and tags. Visibility (who may see which
// image) is decided here, in SQL, as Glance's db layer does (is_image_visible and the
// union query of image_get_all), so lists stay one indexed query at any size.

type Db = Kysely<ImageSchema> | Transaction<ImageSchema>
type Eb = ExpressionBuilder<ImageSchema, 'images'>

/** Who is asking: their project and whether they are the cloud admin (Glance's context.is_admin). */
export interface Caller { project?: string; admin: boolean }

const num = (v: number | string | null): number | null => (v === null || v === undefined ? null : Number(v))

function toImage(r: ImageRow, properties: Record<string, string>, tags: string[]): Image {
  return {
    id: r.id, name: r.name, status: r.status as ImageStatus, visibility: r.visibility as Visibility,
    size: num(r.size), virtualSize: num(r.virtual_size), checksum: r.checksum, osHashAlgo: r.os_hash_algo,
    osHashValue: r.os_hash_value, diskFormat: r.disk_format, containerFormat: r.container_format,
    minDisk: Number(r.min_disk), minRam: Number(r.min_ram), protected: Number(r.protected) === 1,
    osHidden: Number(r.os_hidden) === 1, owner: r.owner, location: r.location,
    createdAt: r.created_at, updatedAt: r.updated_at, properties, tags,
  }
}

/** The columns of an image (everything but properties and tags). */
export function toRow(i: Image): ImageRow {
  return {
    id: i.id, name: i.name, status: i.status, visibility: i.visibility, size: i.size, virtual_size: i.virtualSize,
    checksum: i.checksum, os_hash_algo: i.osHashAlgo, os_hash_value: i.osHashValue, disk_format: i.diskFormat,
    container_format: i.containerFormat, min_disk: i.minDisk, min_ram: i.minRam, protected: i.protected ? 1 : 0,
    os_hidden: i.osHidden ? 1 : 0, owner: i.owner, location: i.location, created_at: i.createdAt,
    updated_at: i.updatedAt, deleted_at: null,
  }
}

/** Properties and tags of the given images, keyed by image id. */
async function extras(db: Db, ids: string[]): Promise<Map<string, { props: Record<string, string>; tags: string[] }>> {
  const out = new Map(ids.map((id) => [id, { props: {} as Record<string, string>, tags: [] as string[] }]))
  if (ids.length === 0) return out
  const props = await db.selectFrom('image_properties').selectAll().where('image_id', 'in', ids).execute()
  for (const p of props) out.get(p.image_id)!.props[p.name] = p.value
  const tags = await db.selectFrom('image_tags').selectAll().where('image_id', 'in', ids).orderBy('value').execute()
  for (const t of tags) out.get(t.image_id)!.tags.push(t.value)
  return out
}

/** True when a row's image is visible to the caller (glance/db/utils.is_image_visible). */
export function visibleTo(eb: Eb, caller: Caller): Expression<SqlBool> {
  if (caller.admin) return sql<SqlBool>`1 = 1`
  const open: Expression<SqlBool>[] = [eb('images.owner', 'is', null), eb('images.visibility', 'in', ['public', 'community'])]
  if (caller.project) {
    open.push(eb('images.owner', '=', caller.project))
    open.push(eb.and([eb('images.visibility', '=', 'shared'), eb.exists(eb.selectFrom('image_members as m')
      .select('m.member').whereRef('m.image_id', '=', 'images.id').where('m.member', '=', caller.project))]))
  }
  return eb.or(open)
}

/** An image by id if it exists, is not deleted and the caller may see it. */
export async function findImage(db: Db, id: string, caller: Caller): Promise<Image | undefined> {
  const row = await db.selectFrom('images').selectAll().where('id', '=', id).where('deleted_at', 'is', null)
    .where((eb) => visibleTo(eb, caller)).executeTakeFirst()
  if (!row) return undefined
  const x = (await extras(db, [id])).get(id)!
  return toImage(row, x.props, x.tags)
}

/** True when any image, deleted or not, has this id (ids are never reused). */
export async function idTaken(db: Db, id: string): Promise<boolean> {
  return !!(await db.selectFrom('images').select('id').where('id', '=', id).executeTakeFirst())
}

/** Inserts a new image with its properties and tags. */
export async function insertImage(db: Kysely<ImageSchema>, image: Image): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('images').values(toRow(image)).execute()
    await writeExtras(tx, image.id, image.properties, image.tags)
  })
}

async function writeExtras(tx: Db, id: string, props: Record<string, string>, tags: string[]): Promise<void> {
  const p = Object.entries(props)
  if (p.length) await tx.insertInto('image_properties').values(p.map(([name, value]) => ({ image_id: id, name, value }))).execute()
  if (tags.length) await tx.insertInto('image_tags').values(tags.map((value) => ({ image_id: id, value }))).execute()
}

/** The attributes a PATCH (or tag call) may change; status and data fields change elsewhere. */
export interface MetadataChange {
  name: string | null; visibility: Visibility; protected: boolean; osHidden: boolean
  minDisk: number; minRam: number; diskFormat: string | null; containerFormat: string | null; owner: string | null
  properties: Record<string, string>; tags: string[]
}

/**
 * Saves metadata in one transaction. `formatsFrom` guards a format change against a concurrent
 * upload: the row is written only while the image is still in one of those statuses.
 * Returns false when the image is gone or changed status meanwhile.
 */
export async function saveMetadata(db: Kysely<ImageSchema>, id: string, c: MetadataChange, now: string,
  formatsFrom?: readonly ImageStatus[]): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    let q = tx.updateTable('images').set({
      name: c.name, visibility: c.visibility, protected: c.protected ? 1 : 0, os_hidden: c.osHidden ? 1 : 0,
      min_disk: c.minDisk, min_ram: c.minRam, disk_format: c.diskFormat, container_format: c.containerFormat,
      owner: c.owner, updated_at: now,
    }).where('id', '=', id).where('deleted_at', 'is', null)
    if (formatsFrom) q = q.where('status', 'in', [...formatsFrom])
    const r = await q.executeTakeFirst()
    if (Number(r.numUpdatedRows) !== 1) return false
    await tx.deleteFrom('image_properties').where('image_id', '=', id).execute()
    await tx.deleteFrom('image_tags').where('image_id', '=', id).execute()
    await writeExtras(tx, id, c.properties, c.tags)
    return true
  })
}

/** Sets one free-form property (as Glance's set_property_atomic, used for import bookkeeping). */
export async function setProperty(db: Db, id: string, name: string, value: string | null): Promise<void> {
  await db.deleteFrom('image_properties').where('image_id', '=', id).where('name', '=', name).execute()
  if (value !== null) await db.insertInto('image_properties').values({ image_id: id, name, value }).execute()
}

/** Data-path columns: written only by upload, import and status actions. */
export type DataChange = Partial<Pick<ImageRow, 'status' | 'size' | 'virtual_size' | 'checksum' | 'os_hash_algo' |
  'os_hash_value' | 'location'>>

/**
 * Moves an image from one status to the next (with data columns), only if it is still in
 * `from` and not deleted: the compare-and-set that keeps two uploads, or an upload and a
 * delete, from both winning. Returns false when the image was not in `from`.
 */
export async function transition(db: Db, id: string, from: readonly ImageStatus[], change: DataChange, now: string): Promise<boolean> {
  const r = await db.updateTable('images').set({ ...change, updated_at: now })
    .where('id', '=', id).where('deleted_at', 'is', null).where('status', 'in', [...from]).executeTakeFirst()
  return Number(r.numUpdatedRows) === 1
}

/** Marks an image deleted (its row stays so the id is never reused); members and data go. */
export async function markDeleted(db: Kysely<ImageSchema>, id: string, now: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const r = await tx.updateTable('images').set({ status: 'deleted', deleted_at: now, updated_at: now, location: null })
      .where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst()
    if (Number(r.numUpdatedRows) !== 1) return false
    await tx.deleteFrom('image_members').where('image_id', '=', id).execute()
    await tx.deleteFrom('image_properties').where('image_id', '=', id).execute()
    await tx.deleteFrom('image_tags').where('image_id', '=', id).execute()
    return true
  })
}

// --- listing -------------------------------------------------------------------------------

export type SortKey = 'name' | 'status' | 'container_format' | 'disk_format' | 'size' | 'id' | 'created_at' | 'updated_at'
/** Comparison operators of the created_at/updated_at filters. */
export type TimeOp = 'gt' | 'gte' | 'lt' | 'lte' | 'eq' | 'neq'

/** A parsed GET /v2/images query. */
export interface ListQuery {
  caller: Caller
  visibility?: Visibility | 'all'
  memberStatus: 'pending' | 'accepted' | 'rejected' | 'all'
  osHidden: boolean
  protected?: boolean
  /** column = value (name, status, owner, checksum, size…). */
  equal: Array<[string, string | number]>
  /** column in (values) (Glance's `in:` operator). */
  within: Array<[string, string[]]>
  times: Array<{ column: 'created_at' | 'updated_at'; op: TimeOp; value: string }>
  ranges: Array<{ column: 'size' | 'virtual_size' | 'min_disk' | 'min_ram'; op: '>=' | '<='; value: number }>
  properties: Array<[string, string]>
  tags: string[]
  sort: Array<{ key: SortKey; dir: 'asc' | 'desc' }>
  limit: number
  marker?: Image
}

/** Nullable sort columns sort as Glance's paginator sees them: NULL as '' or 0. */
function sortExpr(key: SortKey): Expression<unknown> {
  switch (key) {
    case 'name': case 'container_format': case 'disk_format': return sql`coalesce(${sql.ref(`images.${key}`)}, '')`
    case 'size': return sql`coalesce(${sql.ref('images.size')}, 0)`
    default: return sql.ref(`images.${key}`)
  }
}

function markerValue(m: Image, key: SortKey): string | number {
  switch (key) {
    case 'name': return m.name ?? ''
    case 'container_format': return m.containerFormat ?? ''
    case 'disk_format': return m.diskFormat ?? ''
    case 'size': return m.size ?? 0
    case 'created_at': return m.createdAt
    case 'updated_at': return m.updatedAt
    case 'status': return m.status
    case 'id': return m.id
  }
}

const TIME_OPS: Record<TimeOp, '>' | '>=' | '<' | '<=' | '=' | '<>'> = { gt: '>', gte: '>=', lt: '<', lte: '<=', eq: '=', neq: '<>' }

/** One page of images the caller may see, filtered and sorted as asked (Glance's image_get_all). */
export async function listImages(db: Db, q: ListQuery): Promise<Image[]> {
  const { caller } = q
  let query = db.selectFrom('images').selectAll('images')
    .where('images.deleted_at', 'is', null).where('images.status', '<>', 'killed')
  if (!caller.admin) {
    query = query.where((eb) => {
      const any: Expression<SqlBool>[] = [eb('images.visibility', 'in', ['public', 'community'])]
      if (caller.project) {
        any.push(eb('images.owner', '=', caller.project))
        let members = eb.selectFrom('image_members as m').select('m.member').whereRef('m.image_id', '=', 'images.id')
          .where('m.member', '=', caller.project)
        if (q.memberStatus !== 'all') members = members.where('m.status', '=', q.memberStatus)
        any.push(eb.and([eb('images.visibility', '=', 'shared'), eb.exists(members)]))
      }
      return eb.or(any)
    })
  }
  if (q.visibility && q.visibility !== 'all') query = query.where('images.visibility', '=', q.visibility)
  else if (!q.visibility) {
    // Without a visibility, community images show only to their owner (Glance's default list).
    query = query.where((eb) => caller.project
      ? eb.or([eb('images.visibility', '<>', 'community'), eb('images.owner', '=', caller.project)])
      : eb('images.visibility', '<>', 'community'))
  }
  query = query.where('images.os_hidden', '=', q.osHidden ? 1 : 0)
  if (q.protected !== undefined) query = query.where('images.protected', '=', q.protected ? 1 : 0)
  for (const [col, v] of q.equal) query = query.where(sql.ref(`images.${col}`), '=', v)
  for (const [col, vs] of q.within) query = query.where(sql.ref(`images.${col}`), 'in', vs.length ? vs : [''])
  for (const t of q.times) query = query.where(sql.ref(`images.${t.column}`), TIME_OPS[t.op], t.value)
  for (const r of q.ranges) query = query.where(sql.ref(`images.${r.column}`), r.op, r.value)
  for (const [name, value] of q.properties) {
    query = query.where((eb) => eb.exists(eb.selectFrom('image_properties as p').select('p.name')
      .whereRef('p.image_id', '=', 'images.id').where('p.name', '=', name).where('p.value', '=', value)))
  }
  for (const tag of q.tags) {
    query = query.where((eb) => eb.exists(eb.selectFrom('image_tags as t').select('t.value')
      .whereRef('t.image_id', '=', 'images.id').where('t.value', '=', tag)))
  }
  const marker = q.marker
  if (marker) {
    // Keyset pagination: rows strictly after the marker in the (key, dir)… order.
    query = query.where((eb) => eb.or(q.sort.map((s, i) => eb.and([
      ...q.sort.slice(0, i).map((p) => eb(sortExpr(p.key) as any, '=', markerValue(marker, p.key))),
      eb(sortExpr(s.key) as any, s.dir === 'asc' ? '>' : '<', markerValue(marker, s.key)),
    ]))))
  }
  for (const s of q.sort) query = query.orderBy(sortExpr(s.key) as any, s.dir)
  const rows = await query.limit(q.limit).execute()
  const x = await extras(db, rows.map((r) => r.id))
  return rows.map((r) => toImage(r, x.get(r.id)!.props, x.get(r.id)!.tags))
}
