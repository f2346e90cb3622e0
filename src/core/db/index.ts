import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { Kysely, PostgresDialect, SqliteDialect, WithSchemaPlugin, sql } from 'kysely'

/** Which engine a Db runs on; stores use it only where SQL dialects truly differ. */
export type Engine = 'sqlite' | 'postgres'

/**
 * The control-plane database. Each service gets its own schema: a separate SQLite file
 * (DIR/<service>.sqlite) or a PostgreSQL schema of that name in one database.
 */
export interface Db {
  readonly engine: Engine
  /** A Kysely handle scoped to one service's schema. */
  schema<T>(service: string): Kysely<T>
  close(): Promise<void>
}

export interface DbOptions {
  /** `sqlite:DIR`, `sqlite::memory:` or a `postgres://` URL. */
  url: string
}

export function openDb(opts: DbOptions): Db {
  if (opts.url.startsWith('postgres://') || opts.url.startsWith('postgresql://')) return openPostgres(opts.url)
  if (opts.url.startsWith('sqlite:')) return openSqlite(opts.url.slice('sqlite:'.length))
  throw new Error(`unsupported database URL: ${opts.url.replace(/\/\/[^@]*@/, '//***@')}`)
}

function openSqlite(dir: string): Db {
  const handles = new Map<string, Kysely<any>>()
  const memory = dir === ':memory:'
  if (!memory) mkdirSync(dir, { recursive: true })
  return {
    engine: 'sqlite',
    schema<T>(service: string): Kysely<T> {
      let k = handles.get(service)
      if (!k) {
        const file = memory ? ':memory:' : join(dir, `${service}.sqlite`)
        const database = new Database(file)
        database.pragma('journal_mode = WAL')
        database.pragma('synchronous = NORMAL')   // WAL + NORMAL: durable at checkpoint, crash-safe
        database.pragma('foreign_keys = ON')
        database.pragma('busy_timeout = 5000')
        k = new Kysely<any>({ dialect: new SqliteDialect({ database }) })
        handles.set(service, k)
      }
      return k as Kysely<T>
    },
    async close() {
      for (const k of handles.values()) await k.destroy()
      handles.clear()
    },
  }
}

function openPostgres(url: string): Db {
  // One pool for every service; each service's handle qualifies its tables with its schema.
  const pool = new pg.Pool({ connectionString: url, max: 10 })
  const base = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  const handles = new Map<string, Kysely<any>>()
  return {
    engine: 'postgres',
    schema<T>(service: string): Kysely<T> {
      let k = handles.get(service)
      if (!k) {
        k = base.withPlugin(new WithSchemaPlugin(service))
        handles.set(service, k)
      }
      return k as Kysely<T>
    },
    async close() { await base.destroy() },
  }
}

/** One versioned schema change. `up` runs inside a transaction where the engine allows it. */
export interface Migration {
  version: number
  name: string
  up(db: Kysely<any>, engine: Engine): Promise<void>
}

/**
 * Brings a service's schema to the newest version. Versions are applied in order, each
 * in a transaction with its bookkeeping row, so a crash leaves a schema at a known version.
 */
export async function migrate(db: Db, service: string, migrations: Migration[]): Promise<number> {
  const k = db.schema<any>(service)
  if (db.engine === 'postgres') {
    await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(service)}`.execute(k)
  }
  await k.schema.createTable('schema_migrations').ifNotExists()
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'text', (c) => c.notNull())
    .execute()
  const done = new Set((await k.selectFrom('schema_migrations').select('version').execute())
    .map((r: { version: number }) => Number(r.version)))
  const sorted = [...migrations].sort((a, b) => a.version - b.version)
  let current = 0
  for (const m of sorted) {
    if (done.has(m.version)) { current = m.version; continue }
    await k.transaction().execute(async (tx) => {
      await m.up(tx, db.engine)
      await tx.insertInto('schema_migrations')
        .values({ version: m.version, name: m.name, applied_at: new Date().toISOString() }).execute()
    })
    current = m.version
  }
  return current
}

/** True when an error from either engine is a unique-constraint violation. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string }
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}

/** True when an error is a foreign-key violation. */
export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string }
  return e?.code === '23503' || e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY'
}
