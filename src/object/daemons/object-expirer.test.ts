import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashPath } from '../ring/hash.ts'
import { Timestamp } from '../ring/timestamp.ts'
import { call, putCall } from '../storage/object-test-kit.ts'
import { nodeKey } from './common.ts'
import { ObjectExpirer } from './object-expirer.ts'
import { HASH_CFG, type TestCluster, getFrom, objectFiles, startCluster } from './test-cluster.ts'

describe('object expirer', () => {
  let cluster: TestCluster
  const nowSec = Math.floor(Date.now() / 1000)
  const expired = ['e1', 'e2', 'e3']
  before(async () => {
    cluster = await startCluster([['d1', 'd2'], ['d3']])
    const cont = cluster.containerRing.getNodes(HASH_CFG, 'a', 'c')
    for (const n of cont.nodes) {
      const r = await call(cluster.nodeOf(n.device).container, { method: 'PUT', path: `/${n.device}/${cont.partition}/a/c`, headers: { 'x-timestamp': String(nowSec - 1000) } })
      assert.equal(r.status, 201)
    }
    const contHeaders = {
      'x-container-host': cont.nodes.map(nodeKey).join(','), 'x-container-device': cont.nodes.map((n) => n.device).join(','),
      'x-container-partition': String(cont.partition),
    }
    // Written 100 s ago, due 50 s ago (X-Delete-At only has to be after the write's timestamp).
    const put = async (name: string, deleteAt: number) => {
      const { partition, nodes } = cluster.objectRing.getNodes(HASH_CFG, 'a', 'c', name)
      for (const n of nodes) {
        const r = await call(cluster.nodeOf(n.device).object, putCall(`/${n.device}/${partition}/a/c/${name}`, `body of ${name}`,
          { 'x-timestamp': new Timestamp(nowSec - 100).internal, 'x-delete-at': String(deleteAt), ...contHeaders }))
        assert.equal(r.status, 201)
      }
    }
    for (const name of expired) await put(name, nowSec - 50)
    await put('later', nowSec + 3600)
  })
  after(() => cluster.close())

  const expirer = (device: string) => {
    const node = cluster.nodeOf(device)
    return new ObjectExpirer({ devicesRoot: node.root, devices: [device], hashConfig: HASH_CFG, myNodes: node.myNodes,
      client: node.client, ring: cluster.objectRing, containerRing: cluster.containerRing, disk: node.disk })
  }
  const listing = async () => {
    const cont = cluster.containerRing.getNodes(HASH_CFG, 'a', 'c')
    const out = []
    for (const n of cont.nodes) {
      const r = await call(cluster.nodeOf(n.device).container, { method: 'GET', path: `/${n.device}/${cont.partition}/a/c`, query: 'format=json' })
      out.push((JSON.parse(r.text) as { name: string }[]).map((o) => o.name))
    }
    return out
  }

  it('deletes expired objects on every replica and from the listings, and keeps the others', async () => {
    assert.deepEqual(await listing(), [['e1', 'e2', 'e3', 'later'], ['e1', 'e2', 'e3', 'later'], ['e1', 'e2', 'e3', 'later']])
    const s = await expirer('d1').runOnce()
    assert.deepEqual(s, { objectsChecked: 4, expired: 3, deleted: 3, failures: 0 })
    const tomb = new Timestamp(nowSec - 50).internal
    for (const name of expired) {
      const part = cluster.objectRing.getPartition(HASH_CFG, 'a', 'c', name)
      for (const d of ['d1', 'd2', 'd3']) {
        assert.deepEqual(objectFiles(cluster, d, part, hashPath(HASH_CFG, 'a', 'c', name)), [`${tomb}.ts`], `${name} on ${d}`)
      }
    }
    const later = await getFrom(cluster, 'd3', cluster.objectRing.getPartition(HASH_CFG, 'a', 'c', 'later'), '/a/c/later')
    assert.equal(later.status, 200)
    assert.deepEqual(await listing(), [['later'], ['later'], ['later']])
  })

  it('finds nothing more to do on the other replicas', async () => {
    const s = await expirer('d3').runOnce()
    assert.deepEqual(s, { objectsChecked: 1, expired: 0, deleted: 0, failures: 0 })
  })

  it('leaves an object whose expiry a newer POST changed (412)', async () => {
    const { partition, nodes } = cluster.objectRing.getNodes(HASH_CFG, 'a', 'c', 'later')
    // On one replica only, the POST that would move X-Delete-At is missing: that replica thinks it is due.
    const future = nowSec + 7200
    for (const n of nodes.slice(1)) {
      const r = await call(cluster.nodeOf(n.device).object, { method: 'POST', path: `/${n.device}/${partition}/a/c/later`,
        headers: { 'x-timestamp': new Timestamp(nowSec - 10).internal, 'x-delete-at': String(future) } })
      assert.equal(r.status, 202)
    }
    const first = nodes[0].device
    const node = cluster.nodeOf(first)
    const e = new ObjectExpirer({ devicesRoot: node.root, devices: [first], hashConfig: HASH_CFG, myNodes: node.myNodes,
      client: node.client, ring: cluster.objectRing, disk: node.disk, now: () => (nowSec + 3601) * 1000 })
    const s = await e.runOnce()
    assert.deepEqual([s.expired, s.deleted, s.failures], [1, 1, 0])
    for (const n of nodes.slice(1)) assert.equal((await getFrom(cluster, n.device, partition, '/a/c/later')).status, 200, n.device)
  })
})
