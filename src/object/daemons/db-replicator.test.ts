import assert from 'node:assert/strict'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hashPath } from '../ring/hash.ts'
import type { Ring } from '../ring/ring.ts'
import { dbFilePath } from '../storage/db-broker.ts'
import { call } from '../storage/object-test-kit.ts'
import { DbReplicator } from './db-replicator.ts'
import { HASH_CFG, type TestCluster, type TestNode, startCluster } from './test-cluster.ts'

const T = (s: number) => (1700000000 + s).toFixed(5)
const row = (ts: number, size: number) => ({ 'x-timestamp': T(ts), 'x-size': String(size), 'x-content-type': 'text/plain', 'x-etag': 'e' + size })

describe('DB replicator (4 devices on 2 nodes, 3 replicas)', () => {
  let cluster: TestCluster
  before(async () => { cluster = await startCluster([['d1', 'd2'], ['d3', 'd4']]) })
  after(() => cluster.close())

  const containerReplicator = (node: TestNode, opts: { perDiff?: number; maxDiffs?: number; devices?: string[] } = {}) => new DbReplicator({
    kind: 'container', ring: cluster.containerRing, devicesRoot: node.root, hashConfig: HASH_CFG, myNodes: node.myNodes,
    client: node.client, forgetDb: node.container.forget, ...opts,
  })
  const accountReplicator = (node: TestNode) => new DbReplicator({
    kind: 'account', ring: cluster.accountRing, devicesRoot: node.root, hashConfig: HASH_CFG, myNodes: node.myNodes,
    client: node.client, forgetDb: node.account.forget,
  })
  const containerPut = (device: string, part: number, path: string, headers: Record<string, string>) =>
    call(cluster.nodeOf(device).container, { method: 'PUT', path: `/${device}/${part}${path}`, headers })
  const broker = (device: string, part: number, c: string) => cluster.nodeOf(device).container.broker(device, part, 'AUTH_t', c)
  const where = (ring: Ring, c?: string) => {
    const { partition, nodes } = ring.getNodes(HASH_CFG, 'AUTH_t', c)
    return { partition, devices: nodes.map((n) => n.device) }
  }
  const replicateAll = async () => {
    const out = []
    for (const node of cluster.nodes) out.push(await containerReplicator(node).runOnce())
    return out
  }

  it('sends a replica the rows it misses, both ways, until every replica has the same rows', async () => {
    const { partition, devices } = where(cluster.containerRing, 'c1')
    for (const d of devices) assert.equal((await containerPut(d, partition, '/AUTH_t/c1', { 'x-timestamp': T(1), 'x-container-meta-a': 'b' })).status, 201)
    for (let i = 0; i < 5; i++) {
      for (const d of [devices[0], devices[2]]) assert.equal((await containerPut(d, partition, `/AUTH_t/c1/o${i}`, row(10 + i, i))).status, 201)
    }
    for (const n of ['x', 'y']) assert.equal((await containerPut(devices[1], partition, `/AUTH_t/c1/${n}`, row(20, 9))).status, 201)
    assert.equal(broker(devices[1], partition, 'c1')!.getInfo().object_count, 2)

    const stats = await replicateAll()
    assert.ok(stats.every((s) => s.failures === 0))
    assert.ok(stats.reduce((n, s) => n + s.rowsSent, 0) >= 7)
    const hashes = devices.map((d) => broker(d, partition, 'c1')!.getInfo())
    for (const info of hashes) {
      assert.equal(info.object_count, 7)
      assert.equal(info.hash, hashes[0].hash)
    }
    const again = await replicateAll()
    assert.equal(again.reduce((n, s) => n + s.rowsSent, 0), 0, 'in sync: nothing more to send')
    assert.ok(again.reduce((n, s) => n + s.noChange + s.hashMatch, 0) >= 6)
  })

  it('recreates a missing replica with its metadata and rows, in batches', async () => {
    const { partition, devices } = where(cluster.containerRing, 'c1')
    const lost = devices[1]
    const node = cluster.nodeOf(lost)
    node.container.forget(dbFilePath(node.root, lost, 'containers', partition, hashPath(HASH_CFG, 'AUTH_t', 'c1')))
    rmSync(join(node.root, lost, 'containers'), { recursive: true, force: true })
    assert.equal(broker(lost, partition, 'c1'), undefined)
    const src = cluster.nodeOf(devices[0])
    const s = await containerReplicator(src, { perDiff: 2, devices: [devices[0]] }).runOnce()
    assert.equal(s.created, 1)
    assert.equal(s.rowsSent, 7)
    const info = broker(lost, partition, 'c1')!.getInfo()
    assert.equal(info.object_count, 7)
    assert.equal(info.put_timestamp, T(1))
    assert.deepEqual(broker(lost, partition, 'c1')!.metadata, broker(devices[0], partition, 'c1')!.metadata)
    const head = await call(node.container, { method: 'HEAD', path: `/${lost}/${partition}/AUTH_t/c1` })
    assert.equal(head.headers['x-container-meta-a'], 'b')
  })

  it('stops at max_diffs batches and finishes on the next pass', async () => {
    const { partition, devices } = where(cluster.containerRing, 'c1')
    for (let i = 0; i < 6; i++) assert.equal((await containerPut(devices[0], partition, `/AUTH_t/c1/more${i}`, row(30 + i, 1))).status, 201)
    const rep = containerReplicator(cluster.nodeOf(devices[0]), { perDiff: 2, maxDiffs: 2, devices: [devices[0]] })
    const first = await rep.runOnce()
    assert.equal(first.diffCapped, 2)
    assert.equal(first.rowsSent, 8)
    const second = await rep.runOnce()
    assert.equal(second.diffCapped, 0)
    assert.equal(second.rowsSent, 4)
    for (const d of devices) assert.equal(broker(d, partition, 'c1')!.getInfo().object_count, 13)
  })

  it('pushes a handoff DB to every primary, then removes it', async () => {
    const { partition, devices } = where(cluster.containerRing, 'c2')
    const handoff = ['d1', 'd2', 'd3', 'd4'].find((d) => !devices.includes(d))!
    assert.equal((await containerPut(handoff, partition, '/AUTH_t/c2', { 'x-timestamp': T(2) })).status, 201)
    for (let i = 0; i < 3; i++) assert.equal((await containerPut(handoff, partition, `/AUTH_t/c2/h${i}`, row(40 + i, i))).status, 201)
    const node = cluster.nodeOf(handoff)
    const s = await containerReplicator(node, { devices: [handoff] }).runOnce()
    assert.equal(s.created, 3)
    assert.equal(s.removed, 1)
    for (const d of devices) assert.equal(broker(d, partition, 'c2')!.getInfo().object_count, 3)
    assert.equal(existsSync(dbFilePath(node.root, handoff, 'containers', partition, hashPath(HASH_CFG, 'AUTH_t', 'c2'))), false)
    assert.equal(broker(handoff, partition, 'c2'), undefined)
  })

  it('keeps a handoff DB when a primary cannot be reached', async () => {
    const { partition, devices } = where(cluster.containerRing, 'c3')
    const handoff = ['d1', 'd2', 'd3', 'd4'].find((d) => !devices.includes(d))!
    assert.equal((await containerPut(handoff, partition, '/AUTH_t/c3', { 'x-timestamp': T(3) })).status, 201)
    const node = cluster.nodeOf(handoff)
    const primaryIds = cluster.containerRing.getPartNodes(partition).map((d) => d.id)
    const rep = new DbReplicator({
      kind: 'container', ring: cluster.containerRing, devicesRoot: node.root, devices: [handoff], hashConfig: HASH_CFG,
      myNodes: node.myNodes, forgetDb: node.container.forget, timeoutMs: 2000,
      client: (dev, kind) => (dev.id === primaryIds[0] ? 'http://127.0.0.1:9' : node.client(dev, kind)),
    })
    const s = await rep.runOnce()
    assert.ok(s.failures >= 1) // (other DBs of that device may share the unreachable primary)
    assert.equal(s.removed, 0)
    assert.ok(broker(handoff, partition, 'c3'))
  })

  it('replicates account DBs', async () => {
    const { partition, devices } = where(cluster.accountRing)
    const acct = (d: string, path: string, headers: Record<string, string>) =>
      call(cluster.nodeOf(d).account, { method: 'PUT', path: `/${d}/${partition}${path}`, headers })
    for (const d of devices.slice(0, 2)) {
      assert.equal((await acct(d, '/AUTH_t', { 'x-timestamp': T(1), 'x-account-meta-q': 'r' })).status, 201)
      assert.equal((await acct(d, '/AUTH_t/c1', { 'x-put-timestamp': T(2), 'x-delete-timestamp': '0', 'x-object-count': '7', 'x-bytes-used': '70' })).status, 201)
    }
    for (const node of cluster.nodes) assert.equal((await accountReplicator(node).runOnce()).failures, 0)
    const b = cluster.nodeOf(devices[2]).account.broker(devices[2], partition, 'AUTH_t')!
    assert.deepEqual([b.getInfo().container_count, b.getInfo().object_count, b.getInfo().bytes_used], [1, 7, 70])
    assert.equal(b.metadata['X-Account-Meta-Q']?.[0], 'r')
  })

  it('removes a deleted DB once its deletion is older than reclaim_age', async () => {
    const { partition, devices } = where(cluster.containerRing, 'gone')
    for (const d of devices) {
      assert.equal((await containerPut(d, partition, '/AUTH_t/gone', { 'x-timestamp': T(1) })).status, 201)
      const del = await call(cluster.nodeOf(d).container, { method: 'DELETE', path: `/${d}/${partition}/AUTH_t/gone`, headers: { 'x-timestamp': T(5) } })
      assert.equal(del.status, 204)
    }
    const node = cluster.nodeOf(devices[0])
    const rep = new DbReplicator({ kind: 'container', ring: cluster.containerRing, devicesRoot: node.root, devices: [devices[0]],
      hashConfig: HASH_CFG, myNodes: node.myNodes, client: node.client, forgetDb: node.container.forget, reclaimAge: 3600 })
    const s = await rep.runOnce()
    assert.equal(s.reclaimed, 1)
    assert.equal(existsSync(dbFilePath(node.root, devices[0], 'containers', partition, hashPath(HASH_CFG, 'AUTH_t', 'gone'))), false)
  })
})
