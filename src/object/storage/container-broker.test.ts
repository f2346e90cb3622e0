import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ContainerBroker, cmpPolicyInfo, tombstone, type ListedObject, type ObjectRow } from './container-broker.ts'
import { DatabaseAlreadyExists, dbFilePath } from './db-broker.ts'
import type { ListParams, Subdir } from './db-listing.ts'

let root: string
let n = 0
before(() => { root = mkdtempSync(join(tmpdir(), 'cumulo-cbroker-')) })
after(() => rmSync(root, { recursive: true, force: true }))

const T = (s: number) => (1700000000 + s).toFixed(5)
function fresh(policy = 0): ContainerBroker {
  const hash = (++n).toString(16).padStart(32, '0')
  return ContainerBroker.create(dbFilePath(root, 'sda', 'containers', 7, hash),
    { account: 'AUTH_a', container: `c${n}`, putTimestamp: T(0), storagePolicyIndex: policy })
}
function obj(name: string, ts: string, size = 1, extra: Partial<ObjectRow> = {}): ObjectRow {
  return { name, created_at: ts, size, content_type: 'text/plain', etag: 'e-' + name, deleted: 0,
    storage_policy_index: 0, ...extra }
}
const names = (rows: Array<ListedObject | Subdir>) => rows.map((r) => ('subdir' in r ? { subdir: r.subdir } : r.name))

describe('ContainerBroker: create and info', () => {
  it('creates a DB with Swift info and refuses to create it twice', () => {
    const b = fresh(1)
    const info = b.getInfo()
    assert.equal(info.account, 'AUTH_a')
    assert.equal(info.put_timestamp, T(0))
    assert.equal(info.status_changed_at, T(0))
    assert.equal(info.delete_timestamp, '0')
    assert.equal(info.storage_policy_index, 1)
    assert.equal(info.object_count, 0)
    assert.equal(info.hash, '0'.repeat(32))
    assert.match(info.id, /^[0-9a-f-]{36}-sda$/)
    assert.throws(() => ContainerBroker.create(b.path, { account: 'a', container: 'c', putTimestamp: T(1),
      storagePolicyIndex: 0 }), DatabaseAlreadyExists)
    b.close()
  })
})

describe('ContainerBroker: merge semantics', () => {
  it('counts puts, overwrites and deletes', () => {
    const b = fresh()
    b.putObject(obj('a', T(1), 10))
    b.putObject(obj('b', T(2), 20))
    assert.deepEqual([b.getInfo().object_count, b.getInfo().bytes_used], [2, 30])
    b.putObject(obj('a', T(3), 5)) // overwrite
    assert.deepEqual([b.getInfo().object_count, b.getInfo().bytes_used], [2, 25])
    b.deleteObject('b', T(4))
    assert.deepEqual([b.getInfo().object_count, b.getInfo().bytes_used], [1, 5])
    assert.equal(b.empty(), false)
    b.deleteObject('a', T(5))
    assert.deepEqual([b.getInfo().object_count, b.getInfo().bytes_used], [0, 0])
    assert.equal(b.empty(), true)
    b.close()
  })

  it('an older put after a newer delete loses; a newer put after a delete wins', () => {
    const b = fresh()
    b.deleteObject('o', T(5))
    b.putObject(obj('o', T(3), 7))
    assert.equal(b.getInfo().object_count, 0)
    assert.deepEqual(b.listObjects({ limit: 10 }), [])
    b.putObject(obj('o', T(6), 7))
    assert.equal(b.getInfo().object_count, 1)
    b.deleteObject('o', T(4)) // older delete: ignored
    assert.equal(b.getInfo().object_count, 1)
    assert.equal((b.listObjects({ limit: 10 })[0] as ListedObject).created_at, T(6))
    b.close()
  })

  it('keeps the newest of duplicates within one batch, whatever their order', () => {
    const b = fresh()
    b.mergeItems([obj('x', T(3), 3), obj('x', T(9), 9), obj('x', T(5), 5)])
    const row = b.listObjects({ limit: 10 })[0] as ListedObject
    assert.equal(row.size, 9)
    assert.equal(b.getInfo().object_count, 1)
    b.close()
  })

  it('merges content-type and metadata timestamps part by part (fast POST)', () => {
    const b = fresh()
    b.putObject(obj('p', T(1), 4, { content_type: 'image/png' }))
    // A POST at T(3) changed the content type; a replica still sends the PUT at T(1).
    b.putObject(obj('p', T(1), 4, { content_type: 'image/jpeg', ctype_timestamp: T(3), meta_timestamp: T(3) }))
    b.putObject(obj('p', T(1), 4, { content_type: 'image/png' }))
    let row = b.listObjects({ limit: 1 })[0] as ListedObject
    assert.equal(row.content_type, 'image/jpeg')
    assert.equal(row.created_at, T(3)) // listings show the newest timestamp
    // A newer PUT replaces data and content type.
    b.putObject(obj('p', T(4), 8, { content_type: 'text/plain' }))
    row = b.listObjects({ limit: 1 })[0] as ListedObject
    assert.deepEqual([row.size, row.content_type, row.created_at], [8, 'text/plain', T(4)])
    b.close()
  })

  it('keeps swift_bytes with the data timestamp when the content type changes', () => {
    const b = fresh()
    b.putObject(obj('slo', T(1), 100, { content_type: 'application/x;swift_bytes=5000' }))
    b.putObject(obj('slo', T(1), 100, { content_type: 'text/x', ctype_timestamp: T(2) }))
    const row = b.listObjects({ limit: 1 })[0] as ListedObject
    assert.equal(row.content_type, 'text/x;swift_bytes=5000')
    b.close()
  })

  it('keeps rows of different policies apart', () => {
    const b = fresh(0)
    b.putObject(obj('m', T(1), 1, { storage_policy_index: 0 }))
    b.putObject(obj('m', T(2), 2, { storage_policy_index: 1 }))
    assert.deepEqual(b.getPolicyStats(), { 0: { object_count: 1, bytes_used: 1 }, 1: { object_count: 1, bytes_used: 2 } })
    assert.equal(b.getInfo().object_count, 1)
    assert.equal((b.listObjects({ limit: 5, storagePolicyIndex: 1 })[0] as ListedObject).size, 2)
    b.close()
  })
})

describe('ContainerBroker: replication plumbing', () => {
  it('gives every change a new ROWID, and replicas that merge the same rows get the same hash', () => {
    const a = fresh()
    const c = fresh()
    a.putObject(obj('x', T(1)))
    a.putObject(obj('y', T(2)))
    a.putObject(obj('x', T(3))) // replaces x: new ROWID
    const rows = a.getItemsSince(-1, 100)
    assert.deepEqual(rows.map((r) => [r.name, r.ROWID]), [['y', 2], ['x', 3]])
    assert.equal(a.getMaxRow(), 3)
    c.mergeItems(rows as unknown as ObjectRow[], a.getInfo().id)
    assert.equal(c.getSync(a.getInfo().id), 3)
    assert.equal(c.getInfo().hash, a.getInfo().hash)
    assert.notEqual(a.getInfo().hash, '0'.repeat(32))
    // Merging the same rows again changes nothing.
    c.mergeItems(a.getItemsSince(-1, 100) as unknown as ObjectRow[], a.getInfo().id)
    assert.equal(c.getInfo().hash, a.getInfo().hash)
    assert.equal(c.getMaxRow(), 2)
    a.close(); c.close()
  })

  it('merges sync points keeping the larger', () => {
    const b = fresh()
    b.mergeSyncs([{ remote_id: 'r1', sync_point: 5 }, { remote_id: 'r2', sync_point: 1 }])
    b.mergeSyncs([{ remote_id: 'r1', sync_point: 3 }, { remote_id: 'r2', sync_point: 9 }])
    assert.deepEqual(b.getSyncs().sort((x, y) => x.remote_id.localeCompare(y.remote_id)),
      [{ remote_id: 'r1', sync_point: 5 }, { remote_id: 'r2', sync_point: 9 }])
    assert.equal(b.getSync('nope'), -1)
    b.mergeSyncs([{ remote_id: 'r1', sync_point: 7 }], false)
    assert.equal(b.getSync('r1', false), 7)
    b.close()
  })

  it('merges put/delete timestamps as Swift (max) and created_at (min)', () => {
    const b = fresh()
    b.mergeTimestamps(T(-5), T(10), T(2))
    const i = b.getInfo()
    assert.deepEqual([i.created_at, i.put_timestamp, i.delete_timestamp], [T(-5), T(10), T(2)])
    assert.equal(b.isDeleted(), false)
    b.mergeTimestamps(T(-5), T(1), T(20))
    assert.equal(b.isDeleted(), true)
    assert.ok(b.getInfo().status_changed_at > T(10)) // the status change is stamped now
    b.close()
  })

  it('reclaims old tombstones, keeping the hash of live rows', () => {
    const b = fresh()
    b.putObject(obj('live', T(1)))
    b.deleteObject('gone', T(2))
    b.deleteObject('recent', T(100))
    b.reclaimOld(T(50), 0)
    assert.deepEqual(b.getItemsSince(-1, 10).map((r) => r.name), ['live', 'recent'])
    b.close()
  })

  it('decides between replicas\' storage policies as Swift does', () => {
    const base = { put_timestamp: T(1), delete_timestamp: '0', status_changed_at: T(1), count: 0 }
    // Neither deleted nor re-created: the oldest status change wins.
    assert.equal(cmpPolicyInfo(base, { ...base, status_changed_at: T(2) }), -1)
    assert.equal(cmpPolicyInfo({ ...base, status_changed_at: T(3) }, base), 1)
    // A deleted replica loses to a live one.
    assert.equal(cmpPolicyInfo({ ...base, delete_timestamp: T(5) }, base), 1)
    // The newest re-creation wins.
    const recreated = { put_timestamp: T(9), delete_timestamp: T(5), status_changed_at: T(9), count: 0 }
    assert.equal(cmpPolicyInfo(base, recreated), 1)
  })
})

describe('ContainerBroker: listings', () => {
  const fixture = JSON.parse(readFileSync(new URL('./container-listing.swift-cases.json', import.meta.url), 'utf8')) as
    { results: Array<Array<string | { subdir: string }>>; index: number[] }
  const NAMES = ['a', 'a/', 'a/b', 'a/b/c', 'a/c', 'a-b', 'a0', 'b', 'b/x', 'b/y/z', 'c', 'c/', 'd/e/f', 'e',
    '\u00e9', '\u{1F600}', '\uff46', 'dir/sub/1', 'dir/sub/2', 'dir/x', 'dir/y/z', 'dir0', 'x-y', 'x/y',
    'x|y', 'x//y', 'x/', 'x', '\u0000hidden', 'pre/fix/a', 'pre/fix/b', 'pre/fixed', 'pre/g']
  let b: ContainerBroker
  before(() => {
    b = fresh()
    b.mergeItems(NAMES.map((name, i) => obj(name, T(i))))
    b.putObject(obj('a/deleted', T(1)))
    b.deleteObject('a/deleted', T(2))
    b.putObject(obj('other-policy', T(1), 1, { storage_policy_index: 1 }))
  })
  after(() => b.close())

  it('matches Swift\'s list_objects_iter on 1209 parameter combinations', () => {
    const cases: ListParams[] = []
    for (const limit of [10000, 2]) for (const marker of ['', 'a/b', 'dir/', 'x'])
      for (const endMarker of ['', 'dir/y', 'x/']) for (const prefix of [undefined, '', 'a', 'dir/', 'x', '\u00e9'])
        for (const delimiter of [undefined, '/', '-', 'b/']) for (const reverse of [false, true])
          cases.push({ limit, marker, endMarker, prefix, delimiter, reverse })
    for (const path of ['', 'a', 'a/', 'dir', 'x', 'pre/fix', 'nope']) for (const limit of [10000, 2])
      for (const reverse of [false, true]) for (const marker of ['', 'dir/sub/1'])
        cases.push({ limit, marker, endMarker: '', path, reverse })
    cases.push({ limit: 10000, allowReserved: true })
    assert.equal(cases.length, fixture.index.length)
    cases.forEach((p, i) => {
      assert.deepEqual(names(b.listObjects(p)), fixture.results[fixture.index[i]!], JSON.stringify(p))
    })
  })

  it('supports limit, marker, end_marker, prefix, delimiter and reverse together', () => {
    assert.deepEqual(names(b.listObjects({ limit: 3, marker: 'a/', prefix: 'a' })), ['a/b', 'a/b/c', 'a/c'])
    assert.deepEqual(names(b.listObjects({ limit: 10, prefix: 'dir/', delimiter: '/' })),
      [{ subdir: 'dir/sub/' }, 'dir/x', { subdir: 'dir/y/' }])
    assert.deepEqual(names(b.listObjects({ limit: 10, prefix: 'dir/', delimiter: '/', reverse: true })),
      [{ subdir: 'dir/y/' }, 'dir/x', { subdir: 'dir/sub/' }])
    assert.deepEqual(names(b.listObjects({ limit: 2, marker: 'e', endMarker: 'a0', reverse: true })), ['dir0', 'dir/y/z'])
    assert.deepEqual(names(b.listObjects({ limit: 0 })), [])
  })

  it('lists the policy asked for, and only undeleted rows', () => {
    assert.ok(!names(b.listObjects({ limit: 100 })).includes('a/deleted'))
    assert.deepEqual(names(b.listObjects({ limit: 100, storagePolicyIndex: 1 })), ['other-policy'])
  })
})

describe('ContainerBroker: large containers', () => {
  it('serves marker/prefix pages of a 20k-object container with index range scans', () => {
    const b = fresh()
    const rows: ObjectRow[] = []
    for (let i = 0; i < 20000; i++) rows.push(obj(`dir${i % 10}/obj-${String(i).padStart(6, '0')}`, T(1)))
    b.mergeItems(rows)
    assert.equal(b.getInfo().object_count, 20000)
    for (const range of [
      { lower: 'dir5/obj-010000', lowerInclusive: false, reverse: false, limit: 100 },
      { lower: 'dir5/', lowerInclusive: true, upper: 'dir50', reverse: false, limit: 100 },
      { lower: '\u0001', lowerInclusive: true, upper: 'dir3', reverse: true, limit: 100 },
    ]) {
      const plan = b.explainListing(range).join('\n')
      assert.match(plan, /SEARCH object USING INDEX ix_object_deleted_name \(deleted=\? AND name>\?( AND name<\?)?\)/, plan)
      assert.doesNotMatch(plan, /SCAN|TEMP B-TREE/, plan)
    }
    const page = b.listObjects({ limit: 3, marker: 'dir5/obj-010000', prefix: 'dir5/' })
    assert.deepEqual(names(page), ['dir5/obj-010005', 'dir5/obj-010015', 'dir5/obj-010025'])
    assert.deepEqual(names(b.listObjects({ limit: 20, delimiter: '/' })),
      Array.from({ length: 10 }, (_, i) => ({ subdir: `dir${i}/` })))
    b.close()
  })
})

describe('ContainerBroker: persistence', () => {
  it('reopens from disk with rows, metadata and counts', () => {
    const b = fresh()
    b.putObject(obj('kept', T(1), 42))
    b.updateMetadata({ 'X-Container-Meta-Color': ['blue', T(2)] })
    b.close()
    const r = ContainerBroker.open(b.path)
    assert.deepEqual([r.getInfo().object_count, r.getInfo().bytes_used], [1, 42])
    assert.deepEqual(r.metadata, { 'X-Container-Meta-Color': ['blue', T(2)] })
    assert.equal((r.listObjects({ limit: 1 })[0] as ListedObject).name, 'kept')
    r.deleteObject('kept', T(3))
    assert.deepEqual(r.getItemsSince(-1, 5)[0], { ...tombstone('kept', T(3)), ROWID: 2 })
    r.close()
  })
})
