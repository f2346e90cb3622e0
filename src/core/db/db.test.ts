import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { type Db, type Engine, type Migration, isForeignKeyViolation, isUniqueViolation, migrate, openDb } from './index.ts'

/**
 * The Db layer's conformance suite: the same tests for every engine. `make` opens the
 * database; `service()` hands out a fresh, empty service schema for each test.
 */
function dbSuite(name: string, make: () => Db, skip: string | false = false): void {
  // Skip each test rather than the suite, so the runner counts what was skipped.
  const test = (title: string, fn: () => Promise<void>) => it(title, { skip }, fn)
  describe(`db on ${name}`, () => {
    let db: Db | undefined
    const run = randomBytes(4).toString('hex')
    const services: string[] = []
    const open = () => (db ??= make())
    /** A schema name no other test (or run) uses: t_<run>_<n>. */
    const service = () => {
      const s = `t_${run}_${services.length}`
      services.push(s)
      return s
    }

    after(async () => {
      if (!db) return
      if (db.engine === 'postgres') {
        for (const s of services) await sql`DROP SCHEMA IF EXISTS ${sql.id(s)} CASCADE`.execute(db.schema(s))
      }
      await db.close()
    })

    /** Applied versions as recorded in schema_migrations. */
    const recorded = async (s: string) =>
      (await open().schema<any>(s).selectFrom('schema_migrations').select(['version', 'name'])
        .orderBy('version').execute()).map((r) => ({ version: Number(r.version), name: r.name }))
    const tableExists = async (s: string, table: string) => {
      try { await open().schema<any>(s).selectFrom(table).selectAll().limit(1).execute(); return true }
      catch { return false }
    }

    const calls: string[] = []
    const m1: Migration = {
      version: 1, name: 'create things',
      async up(k) {
        calls.push('1')
        await k.schema.createTable('things')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique()).execute()
      },
    }
    const m2: Migration = {
      version: 2, name: 'add size',
      async up(k) {
        calls.push('2')
        await k.schema.alterTable('things').addColumn('size', 'integer', (c) => c.notNull().defaultTo(0)).execute()
      },
    }
    const m3: Migration = {
      version: 3, name: 'seed',
      async up(k) {
        calls.push('3')
        await k.insertInto('things').values({ id: 'a', name: 'alpha', size: 3 }).execute()
      },
    }

    test('migrate() applies versions in order and records them', async () => {
      const s = service()
      calls.length = 0
      assert.equal(await migrate(open(), s, [m3, m1, m2]), 3)
      assert.deepEqual(calls, ['1', '2', '3'])
      assert.deepEqual(await recorded(s), [
        { version: 1, name: 'create things' }, { version: 2, name: 'add size' }, { version: 3, name: 'seed' },
      ])
      const rows = await open().schema<any>(s).selectFrom('schema_migrations').select('applied_at').execute()
      for (const r of rows) assert.ok(!Number.isNaN(Date.parse(r.applied_at)), `applied_at ${r.applied_at}`)
      assert.deepEqual(await open().schema<any>(s).selectFrom('things').selectAll().execute(),
        [{ id: 'a', name: 'alpha', size: 3 }])
    })

    test('migrate() is idempotent and applies only new versions', async () => {
      const s = service()
      assert.equal(await migrate(open(), s, [m1, m2]), 2)
      calls.length = 0
      assert.equal(await migrate(open(), s, [m1, m2]), 2)
      assert.deepEqual(calls, [])
      assert.equal(await migrate(open(), s, [m1, m2, m3]), 3)
      assert.deepEqual(calls, ['3'])
      assert.deepEqual((await recorded(s)).map((r) => r.version), [1, 2, 3])
    })

    test('migrate() passes the engine to up()', async () => {
      const s = service()
      let seen: Engine | undefined
      await migrate(open(), s, [{ version: 1, name: 'probe', async up(_k, engine) { seen = engine } }])
      assert.equal(seen, open().engine)
    })

    test('a failing migration rolls back: its table is gone and its version unrecorded', async () => {
      const s = service()
      const bad: Migration = {
        version: 2, name: 'half done',
        async up(k) {
          await k.schema.createTable('half').addColumn('id', 'text', (c) => c.primaryKey()).execute()
          await k.insertInto('things').values({ id: 'b', name: 'beta' }).execute()
          throw new Error('boom')
        },
      }
      await assert.rejects(migrate(open(), s, [m1, bad]), /boom/)
      assert.deepEqual((await recorded(s)).map((r) => r.version), [1])
      assert.equal(await tableExists(s, 'things'), true)
      assert.equal(await tableExists(s, 'half'), false)
      assert.deepEqual(await open().schema<any>(s).selectFrom('things').selectAll().execute(), [])
      // The fixed migration applies on the next run.
      assert.equal(await migrate(open(), s, [m1, { ...m2, version: 2 }]), 2)
      assert.deepEqual((await recorded(s)).map((r) => r.version), [1, 2])
    })

    test('a failing SQL statement rolls the migration back too', async () => {
      const s = service()
      const bad: Migration = {
        version: 1, name: 'bad sql',
        async up(k) {
          await k.schema.createTable('ok_table').addColumn('id', 'text', (c) => c.primaryKey()).execute()
          await sql`THIS IS NOT SQL`.execute(k)
        },
      }
      await assert.rejects(migrate(open(), s, [bad]))
      assert.deepEqual(await recorded(s), [])
      assert.equal(await tableExists(s, 'ok_table'), false)
    })

    test('isUniqueViolation() detects duplicate primary and unique keys', async () => {
      const s = service()
      await migrate(open(), s, [m1])
      const k = open().schema<any>(s)
      await k.insertInto('things').values({ id: 'a', name: 'alpha' }).execute()
      const dupPk = await k.insertInto('things').values({ id: 'a', name: 'other' }).execute().then(() => null, (e) => e)
      assert.ok(dupPk, 'duplicate primary key was accepted')
      assert.equal(isUniqueViolation(dupPk), true)
      const dupName = await k.insertInto('things').values({ id: 'b', name: 'alpha' }).execute().then(() => null, (e) => e)
      assert.ok(dupName, 'duplicate unique column was accepted')
      assert.equal(isUniqueViolation(dupName), true)
      // Other failures are not unique violations.
      const notNull = await k.insertInto('things').values({ id: 'c', name: null }).execute().then(() => null, (e) => e)
      assert.ok(notNull)
      assert.equal(isUniqueViolation(notNull), false)
      assert.equal(isUniqueViolation(new Error('x')), false)
      assert.equal(isUniqueViolation(undefined), false)
    })

    test('isForeignKeyViolation() detects a dangling reference', async () => {
      const s = service()
      await migrate(open(), s, [m1, {
        version: 2, name: 'children',
        async up(k) {
          await k.schema.createTable('children')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('thing_id', 'text', (c) => c.notNull().references('things.id')).execute()
        },
      }])
      const k = open().schema<any>(s)
      const err = await k.insertInto('children').values({ id: 'c', thing_id: 'nope' }).execute().then(() => null, (e) => e)
      assert.ok(err, 'dangling foreign key was accepted')
      assert.equal(isForeignKeyViolation(err), true)
      assert.equal(isUniqueViolation(err), false)
    })

    test('autoincrement ids as the identity schema declares them, with insert … returning', async () => {
      const s = service()
      await migrate(open(), s, [{
        version: 1, name: 'auto ids',
        async up(k, engine) {
          // As in src/identity/schema.ts.
          const autoId = engine === 'postgres' ? 'serial' : 'integer'
          const auto = (c: any) => engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()
          await k.schema.createTable('events')
            .addColumn('id', autoId as 'integer', auto)
            .addColumn('what', 'text', (c) => c.notNull()).execute()
          await k.schema.createIndex('events_what').on('events').column('what').execute()
        },
      }])
      const k = open().schema<any>(s)
      const a = await k.insertInto('events').values({ what: 'a' }).returning('id').executeTakeFirstOrThrow()
      const b = await k.insertInto('events').values({ what: 'b' }).returning('id').executeTakeFirstOrThrow()
      assert.equal(typeof a.id, 'number')
      assert.equal(a.id, 1)
      assert.equal(b.id, 2)
      // Deleted ids are not reused.
      await k.deleteFrom('events').where('id', '=', 2).execute()
      const c = await k.insertInto('events').values({ what: 'c' }).returning('id').executeTakeFirstOrThrow()
      assert.equal(c.id, 3)
      assert.deepEqual(await k.selectFrom('events').select(['id', 'what']).orderBy('id').execute(),
        [{ id: 1, what: 'a' }, { id: 3, what: 'c' }])
    })

    test('services are isolated: the same table name in two schemas', async () => {
      const s1 = service(), s2 = service()
      await migrate(open(), s1, [m1])
      await migrate(open(), s2, [m1])
      await open().schema<any>(s1).insertInto('things').values({ id: 'a', name: 'one' }).execute()
      await open().schema<any>(s2).insertInto('things').values({ id: 'a', name: 'two' }).execute()
      assert.deepEqual(await open().schema<any>(s1).selectFrom('things').select('name').execute(), [{ name: 'one' }])
      assert.deepEqual(await open().schema<any>(s2).selectFrom('things').select('name').execute(), [{ name: 'two' }])
    })

    test('a transaction rolls back on error', async () => {
      const s = service()
      await migrate(open(), s, [m1])
      const k = open().schema<any>(s)
      await assert.rejects(k.transaction().execute(async (tx) => {
        await tx.insertInto('things').values({ id: 'a', name: 'alpha' }).execute()
        await tx.insertInto('things').values({ id: 'a', name: 'again' }).execute()
      }), isUniqueViolation)
      assert.deepEqual(await k.selectFrom('things').selectAll().execute(), [])
    })
  })
}

dbSuite('sqlite (:memory:)', () => openDb({ url: 'sqlite::memory:' }))

const PG_URL = process.env.PG_URL
dbSuite('postgres', () => openDb({ url: PG_URL! }),
  PG_URL ? false : 'PG_URL not set: PostgreSQL tests skipped (see scripts/pg.sh)')

describe('openDb', () => {
  it('rejects an unknown URL without echoing its password', () => {
    assert.throws(() => openDb({ url: 'mysql://root:secret@localhost/x' }), (e: Error) => {
      assert.match(e.message, /unsupported database URL/)
      assert.doesNotMatch(e.message, /secret/)
      return true
    })
  })
})
