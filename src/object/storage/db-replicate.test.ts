// Drives the REPLICATE verb as a DB replicator would (Swift's db_replicator), between two
// container servers and two account servers.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { BackendHandler, BackendResponse } from './backend.ts'
import { createAccountServer, type AccountServer } from './account-server.ts'
import { createContainerServer, type ContainerServer } from './container-server.ts'
import type { ContainerBroker } from './container-broker.ts'
import type { AccountBroker } from './account-broker.ts'

const hashPath = (a: string, c?: string) => createHash('md5').update(`p/${a}${c ? '/' + c : ''}s`).digest('hex')
const T = (s: number) => (1700000000 + s).toFixed(5)
const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} }
const noAccount = async () => ({ status: 201, headers: {} })

let root: string
let a: ContainerServer
let b: ContainerServer
let accA: AccountServer
let accB: AccountServer
before(() => {
  root = mkdtempSync(join(tmpdir(), 'cumulo-repl-'))
  for (const d of ['nodeA/sda', 'nodeB/sdb']) mkdirSync(join(root, d), { recursive: true })
  a = createContainerServer({ devices: join(root, 'nodeA'), hashPath, logger: quiet, accountUpdate: noAccount })
  b = createContainerServer({ devices: join(root, 'nodeB'), hashPath, logger: quiet, accountUpdate: noAccount })
  accA = createAccountServer({ devices: join(root, 'nodeA'), hashPath, logger: quiet })
  accB = createAccountServer({ devices: join(root, 'nodeB'), hashPath, logger: quiet })
})
after(() => { for (const s of [a, b, accA, accB]) s.close(); rmSync(root, { recursive: true, force: true }) })

async function replicate(server: BackendHandler, device: string, hash: string, args: unknown[]): Promise<BackendResponse> {
  return server({ method: 'REPLICATE', path: `/${device}/4/${hash}`, headers: {}, query: new URLSearchParams(),
    body: Readable.from([Buffer.from(JSON.stringify(args))]) })
}
const json = (r: BackendResponse) => JSON.parse((r.body as Buffer).toString('utf8'))

/** One pass of Swift's replicator from `src` to the DB's replica on `dst` (sync, create if missing, usync). */
async function push(src: ContainerBroker | AccountBroker, dst: BackendHandler, dstDevice: string, hash: string) {
  const info = src.getReplicationInfo()
  const syncArgs = ['sync', info.max_row, info.hash, info.id, info.created_at, info.put_timestamp, info.delete_timestamp,
    info.metadata]
  let r = await replicate(dst, dstDevice, hash, syncArgs)
  if (r.status === 404) {
    r = await replicate(dst, dstDevice, hash, ['create', info])
    assert.equal(r.status, 201)
    r = await replicate(dst, dstDevice, hash, syncArgs)
  }
  assert.equal(r.status, 200)
  const remote = json(r)
  const localSync = src.getSync(remote.id, false)
  if (Math.max(remote.point, localSync) >= info.max_row || remote.hash === info.hash) {
    if (remote.hash === info.hash) src.mergeSyncs([{ remote_id: remote.id, sync_point: remote.point }], false)
    return { inSync: true, sent: 0 }
  }
  let point = Math.max(remote.point, localSync)
  let sent = 0
  for (let rows = src.getItemsSince(point, 2); rows.length; rows = src.getItemsSince(point, 2)) {
    assert.equal((await replicate(dst, dstDevice, hash, ['merge_items', rows, info.id])).status, 202)
    point = rows[rows.length - 1]!.ROWID
    sent += rows.length
  }
  assert.equal((await replicate(dst, dstDevice, hash, ['merge_syncs', src.getSyncs()])).status, 202)
  src.mergeSyncs([{ remote_id: remote.id, sync_point: point }], false)
  return { inSync: false, sent }
}

const put = (s: ContainerServer, dev: string, path: string, headers: Record<string, string>) =>
  s({ method: 'PUT', path: `/${dev}/4${path}`, headers, query: new URLSearchParams() })
const objHeaders = (ts: string, size: number) => ({ 'x-timestamp': ts, 'x-size': String(size), 'x-content-type': 'a/b', 'x-etag': 'e' })

describe('container replication over REPLICATE', () => {
  const hash = hashPath('AUTH_r', 'c')
  it('creates a missing replica, copies its rows and metadata, then finds it in sync', async () => {
    await put(a, 'sda', '/AUTH_r/c', { 'x-timestamp': T(1), 'x-container-meta-tag': 'one' })
    for (let i = 0; i < 5; i++) await put(a, 'sda', `/AUTH_r/c/o${i}`, objHeaders(T(2), i))
    const src = a.broker('sda', 4, 'AUTH_r', 'c')!
    assert.deepEqual(await push(src, b, 'sdb', hash), { inSync: false, sent: 5 })
    const dst = b.broker('sdb', 4, 'AUTH_r', 'c')!
    assert.equal(dst.getInfo().hash, src.getInfo().hash)
    assert.equal(dst.getInfo().object_count, 5)
    assert.equal(dst.getInfo().put_timestamp, T(1))
    assert.deepEqual(dst.metadata, src.metadata)
    assert.equal(dst.getSync(src.getInfo().id), src.getMaxRow())
    assert.deepEqual(await push(src, b, 'sdb', hash), { inSync: true, sent: 0 })
  })

  it('sends only rows newer than the sync point, and converges both ways', async () => {
    const src = a.broker('sda', 4, 'AUTH_r', 'c')!
    const dst = b.broker('sdb', 4, 'AUTH_r', 'c')!
    await put(a, 'sda', '/AUTH_r/c/new', objHeaders(T(3), 9))
    await b({ method: 'DELETE', path: '/sdb/4/AUTH_r/c/o1', headers: { 'x-timestamp': T(4) }, query: new URLSearchParams() })
    assert.deepEqual(await push(src, b, 'sdb', hash), { inSync: false, sent: 1 })
    await push(dst, a, 'sda', hash)
    assert.equal(src.getInfo().hash, dst.getInfo().hash)
    assert.equal(src.getInfo().object_count, 5)
    assert.deepEqual(await push(src, b, 'sdb', hash), { inSync: true, sent: 0 })
  })

  it('merges newer metadata and timestamps during sync', async () => {
    await a({ method: 'POST', path: '/sda/4/AUTH_r/c', headers: { 'x-timestamp': T(5), 'x-container-meta-tag': 'two' },
      query: new URLSearchParams() })
    await push(a.broker('sda', 4, 'AUTH_r', 'c')!, b, 'sdb', hash)
    const h = await b({ method: 'HEAD', path: '/sdb/4/AUTH_r/c', headers: {}, query: new URLSearchParams() })
    assert.equal(h.headers['x-container-meta-tag'], 'two')
    assert.equal(h.headers['x-put-timestamp'], T(5))
  })

  it('refuses malformed calls', async () => {
    assert.equal((await replicate(b, 'sdb', hash, [])).status, 400)
    assert.equal((await replicate(b, 'sdb', hash, ['explode'])).status, 400)
    assert.equal((await replicate(b, 'sdb', hash, ['merge_items', [{ name: 'x' }], 'id'])).status, 400)
    assert.equal((await replicate(b, 'sdb', hash, ['sync', 1, 'h'])).status, 400)
    assert.equal((await replicate(b, 'sdb', '../../etc', ['sync'])).status, 400)
    assert.equal((await replicate(b, 'sdb', hashPath('AUTH_r', 'other'), ['create', { account: 'AUTH_r', container: 'c' }])).status, 400)
    assert.equal((await replicate(b, 'sdb', hashPath('AUTH_r', 'none'), ['merge_syncs', []])).status, 404)
    assert.equal((await replicate(b, 'sdx', hash, ['sync'])).status, 507)
  })
})

describe('account replication over REPLICATE', () => {
  it('creates, fills and then matches the replica', async () => {
    const call = (s: AccountServer, dev: string, path: string, headers: Record<string, string>) =>
      s({ method: 'PUT', path: `/${dev}/4${path}`, headers, query: new URLSearchParams() })
    await call(accA, 'sda', '/AUTH_q', { 'x-timestamp': T(1), 'x-account-meta-x': 'y' })
    for (const c of ['c1', 'c2', 'c3']) {
      await call(accA, 'sda', `/AUTH_q/${c}`, { 'x-put-timestamp': T(2), 'x-delete-timestamp': '0', 'x-object-count': '1',
        'x-bytes-used': '10' })
    }
    const src = accA.broker('sda', 4, 'AUTH_q')!
    const hash = hashPath('AUTH_q')
    assert.deepEqual(await push(src, accB, 'sdb', hash), { inSync: false, sent: 3 })
    const dst = accB.broker('sdb', 4, 'AUTH_q')!
    assert.equal(dst.getInfo().hash, src.getInfo().hash)
    assert.deepEqual([dst.getInfo().container_count, dst.getInfo().bytes_used], [3, 30])
    assert.deepEqual(dst.metadata, src.metadata)
    assert.deepEqual(await push(src, accB, 'sdb', hash), { inSync: true, sent: 0 })
  })
})
