import type { Kysely } from 'kysely'
import type { Migration } from '../core/db/index.ts'

// The image service's tables (schema `image`), portable to SQLite and PostgreSQL: ids TEXT,
// times ISO TEXT, JSON TEXT, booleans INTEGER 0/1, sizes BIGINT (read back through Number(),
// since pg returns BIGINT as a string).

/** An image. Deleted images keep their row (deleted_at set) so their id is never reused, as in Glance. */
export interface ImageRow {
  id: string; name: string | null; status: string; visibility: string
  size: number | string | null; virtual_size: number | string | null
  checksum: string | null; os_hash_algo: string | null; os_hash_value: string | null
  disk_format: string | null; container_format: string | null
  min_disk: number; min_ram: number; protected: number; os_hidden: number
  owner: string | null
  /** Where the ImageStore keeps the bytes (its own URI), or null before upload. */
  location: string | null
  created_at: string; updated_at: string; deleted_at: string | null
}
/** A free-form image property (Glance's extra properties; values are strings). */
export interface ImagePropertyRow { image_id: string; name: string; value: string }
/** A tag of an image. */
export interface ImageTagRow { image_id: string; value: string }
/** A project an image is shared with, and whether that project accepted it. */
export interface ImageMemberRow { image_id: string; member: string; status: string; created_at: string; updated_at: string }
/** An asynchronous operation (image import), shown by /v2/images/{id}/tasks and /v2/tasks. */
export interface TaskRow {
  id: string; type: string; status: string; owner: string | null; image_id: string | null
  user_id: string | null; request_id: string | null; input: string; result: string | null
  message: string; expires_at: string | null; created_at: string; updated_at: string
}
/** Metadata definitions (metadefs): catalogues of properties clients may put on resources. */
export interface MdNamespaceRow {
  id: string; namespace: string; display_name: string | null; description: string | null
  visibility: string; protected: number; owner: string | null; created_at: string; updated_at: string
}
/** A resource type metadefs can apply to (OS::Glance::Image, OS::Nova::Flavor…). */
export interface MdResourceTypeRow { name: string; protected: number; created_at: string; updated_at: string }
/** A namespace applies to a resource type, with a property prefix for it. */
export interface MdNamespaceResourceTypeRow {
  namespace_id: string; resource_type: string; prefix: string | null; properties_target: string | null
  created_at: string; updated_at: string
}
/** A property definition; `schema` is its JSON-schema body (type, title, enum…). */
export interface MdPropertyRow { namespace_id: string; name: string; schema: string; created_at: string; updated_at: string }
/** An object definition: a named group of property definitions. */
export interface MdObjectRow {
  namespace_id: string; name: string; description: string | null; required: string; properties: string
  created_at: string; updated_at: string
}
/** A tag definition of a namespace. */
export interface MdTagRow { namespace_id: string; name: string; created_at: string; updated_at: string }

/** The tables of the `image` schema, for Kysely. */
export interface ImageSchema {
  images: ImageRow
  image_properties: ImagePropertyRow
  image_tags: ImageTagRow
  image_members: ImageMemberRow
  tasks: TaskRow
  md_namespaces: MdNamespaceRow
  md_resource_types: MdResourceTypeRow
  md_namespace_resource_types: MdNamespaceResourceTypeRow
  md_properties: MdPropertyRow
  md_objects: MdObjectRow
  md_tags: MdTagRow
}

/** Resource types a fresh cloud knows (what `glance-manage db load_metadefs` loads). */
export const SEED_RESOURCE_TYPES = [
  'OS::Glance::Image', 'OS::Cinder::Volume', 'OS::Nova::Flavor', 'OS::Nova::Aggregate',
  'OS::Nova::Server', 'OS::Trove::Instance', 'OS::Glance::Snapshot',
]

const images: Migration = {
  version: 1,
  name: 'images, properties, tags, members, tasks',
  async up(db: Kysely<any>) {
    await db.schema.createTable('images')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('visibility', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint')
      .addColumn('virtual_size', 'bigint')
      .addColumn('checksum', 'text')
      .addColumn('os_hash_algo', 'text')
      .addColumn('os_hash_value', 'text')
      .addColumn('disk_format', 'text')
      .addColumn('container_format', 'text')
      .addColumn('min_disk', 'integer', (c) => c.notNull())
      .addColumn('min_ram', 'integer', (c) => c.notNull())
      .addColumn('protected', 'integer', (c) => c.notNull())
      .addColumn('os_hidden', 'integer', (c) => c.notNull())
      .addColumn('owner', 'text')
      .addColumn('location', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('deleted_at', 'text')
      .execute()
    await db.schema.createIndex('images_owner').on('images').column('owner').execute()
    await db.schema.createIndex('images_visibility').on('images').column('visibility').execute()
    await db.schema.createIndex('images_created').on('images').columns(['created_at', 'id']).execute()
    await db.schema.createTable('image_properties')
      .addColumn('image_id', 'text', (c) => c.notNull().references('images.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('image_properties_pk', ['image_id', 'name'])
      .execute()
    await db.schema.createIndex('image_properties_name').on('image_properties').columns(['name', 'value']).execute()
    await db.schema.createTable('image_tags')
      .addColumn('image_id', 'text', (c) => c.notNull().references('images.id').onDelete('cascade'))
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('image_tags_pk', ['image_id', 'value'])
      .execute()
    await db.schema.createIndex('image_tags_value').on('image_tags').column('value').execute()
    await db.schema.createTable('image_members')
      .addColumn('image_id', 'text', (c) => c.notNull().references('images.id').onDelete('cascade'))
      .addColumn('member', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('image_members_pk', ['image_id', 'member'])
      .execute()
    await db.schema.createIndex('image_members_member').on('image_members').columns(['member', 'status']).execute()
    await db.schema.createTable('tasks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('owner', 'text')
      .addColumn('image_id', 'text')
      .addColumn('user_id', 'text')
      .addColumn('request_id', 'text')
      .addColumn('input', 'text', (c) => c.notNull())
      .addColumn('result', 'text')
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('tasks_image').on('tasks').column('image_id').execute()
  },
}

const metadefs: Migration = {
  version: 2,
  name: 'metadata definitions',
  async up(db: Kysely<any>) {
    await db.schema.createTable('md_namespaces')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('namespace', 'text', (c) => c.notNull().unique())
      .addColumn('display_name', 'text')
      .addColumn('description', 'text')
      .addColumn('visibility', 'text', (c) => c.notNull())
      .addColumn('protected', 'integer', (c) => c.notNull())
      .addColumn('owner', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createTable('md_resource_types')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('protected', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createTable('md_namespace_resource_types')
      .addColumn('namespace_id', 'text', (c) => c.notNull().references('md_namespaces.id').onDelete('cascade'))
      .addColumn('resource_type', 'text', (c) => c.notNull().references('md_resource_types.name'))
      .addColumn('prefix', 'text')
      .addColumn('properties_target', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('md_ns_rt_pk', ['namespace_id', 'resource_type'])
      .execute()
    for (const t of ['md_properties', 'md_objects', 'md_tags'] as const) {
      let b = db.schema.createTable(t)
        .addColumn('namespace_id', 'text', (c) => c.notNull().references('md_namespaces.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
      if (t === 'md_properties') b = b.addColumn('schema', 'text', (c) => c.notNull())
      if (t === 'md_objects') {
        b = b.addColumn('description', 'text')
          .addColumn('required', 'text', (c) => c.notNull())
          .addColumn('properties', 'text', (c) => c.notNull())
      }
      await b.addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint(`${t}_pk`, ['namespace_id', 'name'])
        .execute()
    }
    const now = new Date().toISOString()
    await db.insertInto('md_resource_types')
      .values(SEED_RESOURCE_TYPES.map((name) => ({ name, protected: 1, created_at: now, updated_at: now })))
      .execute()
  },
}

/** The image service's migrations, applied in order by createImage. */
export const imageMigrations: Migration[] = [images, metadefs]
