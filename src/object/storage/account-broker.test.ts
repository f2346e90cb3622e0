import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AccountBroker, toContainerRows, type ContainerRow, type ListedContainer } from './account-broker.ts'
import { dbFilePath, DbError } from './db-broker.ts'
import type { Subdir } from './db-listing.ts'

let root: string
let n = 0
before(() => { root = mkdtempSync(join(tmpdir(), 'cumulo-abroker-')) })
after(() => rmSync(root, { recursive: true, force: true }))

const T = (s: number) => (1700000000 + s).toFixed(5)
const Z = '0000000000.00000'
function fresh(): AccountBroker {
  const hash = (++n).toString(16).padStart(32, 'f')
  return AccountBroker.create(dbFilePath(root, 'sda', 'accounts', 9, hash), { account: `AUTH_${n}`, putTimestamp: T(0) })
}
function report(name: string, put: string, del: string, count: number, bytes: number, policy = 0) {
  return { name, put_timestamp: put, delete_timestamp: del, object_count: count, bytes_used: bytes, storage_policy_index: policy }
}
const names = (rows: Array<ListedContainer | Subdir>) => rows.map((r) => ('subdir' in r ? { subdir: r.subdir } : r.name))

describe('AccountBroker', () => {
  it('keeps totals from container reports, per policy too', () => {
    const b = fresh()
    b.putContainer(report('c1', T(1), Z, 3, 30))
    b.putContainer(report('c2', T(2), Z, 1, 5, 1))
    let i = b.getInfo()
    assert.deepEqual([i.container_count, i.object_count, i.bytes_used], [2, 4, 35])
    b.putContainer(report('c1', T(1), Z, 10, 100)) // a later report of the same container
    i = b.getInfo()
    assert.deepEqual([i.container_count, i.object_count, i.bytes_used], [2, 11, 105])
    assert.deepEqual(b.getPolicyStats(), {
      0: { container_count: 1, object_count: 10, bytes_used: 100 },
      1: { container_count: 1, object_count: 1, bytes_used: 5 },
    })
    b.close()
  })

  it('marks a container deleted when its delete is newer and it is empty; an older report cannot revive it', () => {
    const b = fresh()
    b.putContainer(report('c', T(1), Z, 0, 0))
    b.putContainer(report('c', T(1), T(2), 0, 0))
    assert.equal(b.getInfo().container_count, 0)
    assert.deepEqual(b.listContainers({ limit: 10 }), [])
    b.putContainer(report('c', T(1), Z, 0, 0)) // stale put report: delete timestamp stays T(2)
    assert.equal(b.getInfo().container_count, 0)
    const [row] = b.getItemsSince(-1, 10)
    assert.deepEqual([row!.put_timestamp, row!.delete_timestamp, row!.deleted], [T(1), T(2), 1])
    b.putContainer(report('c', T(3), Z, 0, 0)) // re-created
    assert.equal(b.getInfo().container_count, 1)
    b.close()
  })

  it('is deleted after DELETE (status) and reports it', () => {
    const b = fresh()
    assert.equal(b.isDeleted(), false)
    b.putContainer(report('c', T(1), Z, 1, 1))
    b.deleteDb(T(5))
    assert.equal(b.isDeleted(), true) // status DELETED even with a container
    assert.equal(b.isStatusDeleted(), true)
    b.close()
  })

  it('lists containers with prefix, delimiter, markers and reverse', () => {
    const b = fresh()
    for (const [i, c] of ['a', 'b-1', 'b-2', 'b-3/x', 'c', 'd'].entries()) b.putContainer(report(c, T(i + 1), Z, i, i * 10))
    assert.deepEqual(names(b.listContainers({ limit: 100 })), ['a', 'b-1', 'b-2', 'b-3/x', 'c', 'd'])
    assert.deepEqual(names(b.listContainers({ limit: 100, delimiter: '-' })), ['a', { subdir: 'b-' }, 'c', 'd'])
    assert.deepEqual(names(b.listContainers({ limit: 100, prefix: 'b-', delimiter: '/' })), ['b-1', 'b-2', { subdir: 'b-3/' }])
    assert.deepEqual(names(b.listContainers({ limit: 2, marker: 'b-1', reverse: true })), ['a'])
    assert.deepEqual(names(b.listContainers({ limit: 2, marker: 'a', endMarker: 'd' })), ['b-1', 'b-2'])
    const [first] = b.listContainers({ limit: 1 }) as ListedContainer[]
    assert.deepEqual(first, { name: 'a', object_count: 0, bytes_used: 0, put_timestamp: T(1), storage_policy_index: 0 })
    const plan = b.explainListing({ lower: 'b', lowerInclusive: false, upper: 'c', reverse: false, limit: 10 }).join('\n')
    assert.match(plan, /SEARCH container USING INDEX ix_container_deleted_name \(deleted=\? AND name>\? AND name<\?\)/)
    b.close()
  })

  it('replicates: rows since a ROWID merge into another replica to the same hash', () => {
    const a = fresh()
    const c = fresh()
    a.putContainer(report('x', T(1), Z, 1, 1))
    a.putContainer(report('y', T(2), Z, 2, 2))
    c.putContainer(report('y', T(2), Z, 2, 2))
    const rows = a.getItemsSince(-1, 100) as unknown as ContainerRow[]
    c.mergeItems(rows, a.getInfo().id)
    assert.equal(c.getSync(a.getInfo().id), a.getMaxRow())
    assert.equal(c.getInfo().hash, a.getInfo().hash)
    assert.equal(c.getReplicationInfo().count, 2)
    a.close(); c.close()
  })

  it('validates rows received over the network', () => {
    const good = { name: 'c', put_timestamp: '1', delete_timestamp: '0', object_count: 0, bytes_used: 0, deleted: 0,
      storage_policy_index: 0, ROWID: 4 }
    assert.deepEqual(toContainerRows([good]), [{ ...good, put_timestamp: '0000000001.00000', delete_timestamp: Z }])
    for (const bad of [{ ...good, name: 5 }, { ...good, put_timestamp: 'x' }, { ...good, object_count: -1 }, 'nope']) {
      assert.throws(() => toContainerRows([bad]), (e: unknown) => e instanceof DbError && e.status === 400)
    }
    assert.throws(() => toContainerRows({}), DbError)
  })

  it('reopens from disk', () => {
    const b = fresh()
    b.putContainer(report('kept', T(1), Z, 7, 70))
    b.updateMetadata({ 'X-Account-Meta-Q': ['1', T(1)] })
    b.close()
    const r = AccountBroker.open(b.path)
    assert.deepEqual([r.getInfo().container_count, r.getInfo().bytes_used], [1, 70])
    assert.deepEqual(r.metadata, { 'X-Account-Meta-Q': ['1', T(1)] })
    r.close()
  })
})
