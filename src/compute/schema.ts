import type { Kysely } from 'kysely'
import type { Migration } from '../core/db/index.ts'

// The compute service's tables (schema `compute`), portable to SQLite and PostgreSQL: ids TEXT,
// times ISO TEXT, booleans INTEGER 0/1.

/** A flavor. `flavorid` is the id clients see; `id` is the internal, never-reused serial. */
export interface FlavorRow {
  flavorid: string; name: string; memory_mb: number; vcpus: number; root_gb: number; ephemeral_gb: number
  swap: number; rxtx_factor: number; is_public: number; disabled: number; description: string | null
  created_at: string; updated_at: string | null
}
/** One extra spec of a flavor (values are strings, as in Nova). */
export interface FlavorExtraSpecRow { flavorid: string; key: string; value: string }
/** A project allowed to use a private flavor. */
export interface FlavorProjectRow { flavorid: string; project_id: string }
/** An SSH public key or X.509 certificate of a user. */
export interface KeyPairRow {
  id: number; user_id: string; name: string; type: string; public_key: string; fingerprint: string; created_at: string
}
/** A quota override; user_id '' is the project's own limit. Absent rows mean the default. */
export interface QuotaRow { project_id: string; user_id: string; resource: string; hard_limit: number }

/** A quota class's limit; the `default` class overrides the configured defaults for every project. */
export interface QuotaClassRow { class_name: string; resource: string; hard_limit: number }

/** The tables of the `compute` schema, for Kysely. */
export interface ComputeSchema {
  flavors: FlavorRow
  flavor_extra_specs: FlavorExtraSpecRow
  flavor_projects: FlavorProjectRow
  key_pairs: KeyPairRow
  quotas: QuotaRow
  quota_classes: QuotaClassRow
}

const foundation: Migration = {
  version: 1,
  name: 'flavors, extra specs, flavor access, key pairs, quotas',
  async up(db: Kysely<any>, engine) {
    await db.schema.createTable('flavors')
      .addColumn('flavorid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('memory_mb', 'integer', (c) => c.notNull())
      .addColumn('vcpus', 'integer', (c) => c.notNull())
      .addColumn('root_gb', 'integer', (c) => c.notNull())
      .addColumn('ephemeral_gb', 'integer', (c) => c.notNull())
      .addColumn('swap', 'integer', (c) => c.notNull())
      .addColumn('rxtx_factor', 'double precision', (c) => c.notNull())
      .addColumn('is_public', 'integer', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .execute()
    await db.schema.createTable('flavor_extra_specs')
      .addColumn('flavorid', 'text', (c) => c.notNull().references('flavors.flavorid').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('flavor_extra_specs_pk', ['flavorid', 'key'])
      .execute()
    await db.schema.createTable('flavor_projects')
      .addColumn('flavorid', 'text', (c) => c.notNull().references('flavors.flavorid').onDelete('cascade'))
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('flavor_projects_pk', ['flavorid', 'project_id'])
      .execute()
    await db.schema.createTable('key_pairs')
      .addColumn('id', 'integer', (c) => engine === 'postgres' ? c.generatedByDefaultAsIdentity().primaryKey() : c.primaryKey().autoIncrement())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('key_pairs_user_name', ['user_id', 'name'])
      .execute()
    await db.schema.createTable('quotas')
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('hard_limit', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'user_id', 'resource'])
      .execute()
  },
}

const quotaClasses: Migration = {
  version: 2,
  name: 'quota classes',
  async up(db: Kysely<any>) {
    await db.schema.createTable('quota_classes')
      .addColumn('class_name', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('hard_limit', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('quota_classes_pk', ['class_name', 'resource'])
      .execute()
  },
}

/** Migrations of the `compute` schema, oldest first. */
export const computeMigrations: Migration[] = [foundation, quotaClasses]
