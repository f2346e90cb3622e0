import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import {
  BrokerCache, chexor, createDbFile, DatabaseAlreadyExists, dbFilePath, DbError, isCorruptDbError, openDbFile,
  validateMetadata,
} from './db-broker.ts'
import { ContainerBroker, type ObjectRow } from './container-broker.ts'

let root: string
let n = 0
before(() => { root = mkdtempSync(join(tmpdir(), 'cumulo-dbbroker-')) })
after(() => rmSync(root, { recursive: true, force: true }))

const T = (s: number) => (1700000000 + s).toFixed(5)
function fresh(): ContainerBroker {
  const hash = `ab${(++n).toString(16).padStart(30, '0')}`
  return ContainerBroker.create(dbFilePath(root, 'sdb', 'containers', 3, hash),
    { account: 'a', container: `c${n}`, putTimestamp: T(0), storagePolicyIndex: 0 })
}
const row = (name: string, ts: string): ObjectRow =>
  ({ name, created_at: ts, size: 1, content_type: 'x/y', etag: 'e', deleted: 0, storage_policy_index: 0 })

describe('dbFilePath and chexor', () => {
  it('places a DB as Swift does', () => {
    assert.equal(dbFilePath('/srv/node', 'sda1', 'containers', 1234, 'abcdef0123456789abcdef0123456789'),
      '/srv/node/sda1/containers/1234/789/abcdef0123456789abcdef0123456789/abcdef0123456789abcdef0123456789.db')
  })
  it('XORs md5(name-timestamp) into the hash (values from Swift\'s chexor)', () => {
    const h1 = chexor('0'.repeat(32), 'a', '0000000001.00000')
    assert.equal(h1, '668a9027ef4088f999472cfd387f5b29')
    assert.equal(chexor(h1, '\u00e9', '0000000002.00000'), '53abef34f23bde3f35776f84aeb15916')
    assert.equal(chexor(chexor(h1, 'x', '1'), 'x', '1'), h1) // XOR: adding then removing a row cancels
  })
})

describe('createDbFile / openDbFile', () => {
  it('creates atomically, leaves no temp file, refuses to overwrite', () => {
    const path = join(root, 'sdc', 'containers', '1', 'abc', 'x'.repeat(29) + 'abc', 'f.db')
    createDbFile(path, (db) => db.exec('CREATE TABLE t (v TEXT); INSERT INTO t VALUES (\'one\')'))
    assert.deepEqual(readdirSync(dirname(path)), ['f.db'])
    assert.throws(() => createDbFile(path, (db) => db.exec('CREATE TABLE t (v TEXT)')), DatabaseAlreadyExists)
    assert.deepEqual(readdirSync(dirname(path)), ['f.db'])
    const db = openDbFile(path)
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
    assert.equal(db.pragma('synchronous', { simple: true }), 2) // FULL: each commit is fsynced
    assert.deepEqual(db.prepare('SELECT v FROM t').all(), [{ v: 'one' }])
    assert.deepEqual(db.prepare('SELECT name FROM sqlite_master WHERE name LIKE \'%_sync\' ORDER BY name').all(),
      [{ name: 'incoming_sync' }, { name: 'outgoing_sync' }])
    db.close()
  })
  it('fails to open a missing file, and flags a non-DB file as corrupt', () => {
    assert.throws(() => openDbFile(join(root, 'missing.db')))
    const junk = join(root, 'junk.db')
    writeFileSync(junk, 'this is not an sqlite file, not at all'.repeat(200))
    let err: unknown
    try { openDbFile(junk) } catch (e) { err = e }
    assert.ok(isCorruptDbError(err), String(err))
  })
})

describe('metadata', () => {
  it('merges key by key, last writer wins', () => {
    const b = fresh()
    b.updateMetadata({ 'X-Container-Meta-A': ['1', T(5)], 'X-Container-Meta-B': ['1', T(5)] })
    b.updateMetadata({ 'X-Container-Meta-A': ['old', T(4)], 'X-Container-Meta-B': ['new', T(6)] })
    b.updateMetadata({ 'X-Container-Meta-C': ['', T(7)] })
    assert.deepEqual(b.metadata, {
      'X-Container-Meta-A': ['1', T(5)], 'X-Container-Meta-B': ['new', T(6)], 'X-Container-Meta-C': ['', T(7)],
    })
    // Same timestamp: the stored value stays (only strictly newer replaces).
    b.updateMetadata({ 'X-Container-Meta-A': ['same-ts', T(5)] })
    assert.equal(b.metadata['X-Container-Meta-A']![0], '1')
    b.close()
  })
  it('rejects too many or too large user metadata, as Swift (400)', () => {
    const b = fresh()
    const many: Record<string, [string, string]> = {}
    for (let i = 0; i < 91; i++) many[`X-Container-Meta-K${i}`] = ['v', T(1)]
    assert.throws(() => b.updateMetadata(many, true), (e: unknown) => e instanceof DbError && e.status === 400)
    assert.deepEqual(b.metadata, {}) // nothing written
    assert.throws(() => validateMetadata({ 'X-Account-Meta-Big': ['x'.repeat(4094), T(1)] }), /too large/)
    validateMetadata({ 'X-Account-Meta-Big': ['x'.repeat(4093), T(1)], 'X-Account-Sysmeta-Z': ['y'.repeat(9000), T(1)] })
    b.close()
  })
  it('deleteDb blanks metadata and marks the DB deleted only if newer', () => {
    const b = fresh()
    b.updateMetadata({ 'X-Container-Meta-A': ['1', T(1)], 'X-Container-Sysmeta-Shard-Root': ['r', T(1)] })
    b.deleteDb(T(2))
    assert.deepEqual(b.metadata, { 'X-Container-Meta-A': ['', T(2)], 'X-Container-Sysmeta-Shard-Root': ['r', T(1)] })
    assert.equal(b.getInfo().status, 'DELETED')
    assert.equal(b.isDeleted(), true)
    b.deleteDb(T(1)) // older: no change
    assert.equal(b.getInfo().delete_timestamp, T(2))
    b.close()
  })
})

describe('group commit', () => {
  it('commits everything queued in one turn in one transaction, and settles after the commit', async () => {
    const b = fresh()
    let commits = 0
    const orig = b.mergeItems.bind(b)
    b.mergeItems = (items, source) => { commits++; orig(items, source) }
    const done = Promise.all(Array.from({ length: 50 }, (_, i) => b.enqueue(row(`o${i}`, T(1)))))
    assert.equal(b.getInfo().object_count, 0) // not yet committed, not yet acknowledged
    await done
    assert.equal(commits, 1)
    assert.equal(b.getInfo().object_count, 50)
    b.close()
  })
  it('rejects every waiter of a failed batch and keeps working', async () => {
    const b = fresh()
    const bad = { ...row('bad', T(1)), created_at: 'not-a-timestamp' }
    const results = await Promise.allSettled([b.enqueue(row('ok', T(1))), b.enqueue(bad)])
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected'])
    await b.enqueue(row('later', T(2)))
    assert.equal(b.getInfo().object_count, 1)
    b.close()
    await assert.rejects(b.enqueue(row('closed', T(3))), /closed/)
  })
  it('close() commits what is queued', async () => {
    const b = fresh()
    const p = b.enqueue(row('q', T(1)))
    b.close()
    await p
    const r = ContainerBroker.open(b.path)
    assert.equal(r.getInfo().object_count, 1)
    r.close()
  })
})

describe('BrokerCache', () => {
  it('keeps at most max brokers open, closing the least recently used (after flushing)', async () => {
    const cache = new BrokerCache<ContainerBroker>(2)
    const [a, b, c] = [fresh(), fresh(), fresh()]
    cache.set(a.path, a)
    cache.set(b.path, b)
    assert.equal(cache.get(a.path), a) // a is now the most recent
    const pending = b.enqueue(row('flushed-on-evict', T(1)))
    cache.set(c.path, c) // evicts b
    assert.equal(cache.size, 2)
    assert.equal(cache.get(b.path), undefined)
    assert.equal(b.isOpen, false)
    await pending
    const reopened = ContainerBroker.open(b.path)
    assert.equal(reopened.getInfo().object_count, 1)
    reopened.close()
    cache.evict(a.path)
    assert.equal(a.isOpen, false)
    cache.closeAll()
    assert.equal(c.isOpen, false)
    assert.equal(cache.size, 0)
    assert.ok(existsSync(c.path))
  })
})
