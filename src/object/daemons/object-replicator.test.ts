import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hashPath } from '../ring/hash.ts'
import { call, freshTs, putCall } from '../storage/object-test-kit.ts'
import { ObjectReplicator } from './object-replicator.ts'
import { HASH_CFG, type TestCluster, fileMetadata, getFrom, objectFilePath, objectFiles, startCluster } from './test-cluster.ts'

/** A replicator for some devices of the node holding them (sharing its disk layer). */
function replicator(cluster: TestCluster, devices: string[]): ObjectReplicator {
  const node = cluster.nodeOf(devices[0])
  return new ObjectReplicator({
    devicesRoot: node.root, devices, hashConfig: HASH_CFG, myNodes: node.myNodes, client: node.client,
    ring: cluster.objectRing, disk: node.disk,
  })
}

function body(i: number): Buffer {
  const size = i === 0 ? 200 * 1024 + 3 : i % 5 === 1 ? 0 : 100 + i * 37
  const b = Buffer.alloc(size)
  for (let k = 0; k < size; k++) b[k] = (k * 13 + i) & 0xff
  return b
}

/** PUTs an object with the same timestamp to the given devices (what a proxy does). */
async function putTo(cluster: TestCluster, devices: string[], name: string, data: Buffer, headers: Record<string, string> = {}) {
  const { partition } = cluster.objectRing.getNodes(HASH_CFG, 'a', 'c', name)
  const ts = headers['x-timestamp'] ?? freshTs()
  for (const d of devices) {
    const r = await call(cluster.nodeOf(d).object, putCall(`/${d}/${partition}/a/c/${name}`, data, { ...headers, 'x-timestamp': ts }))
    assert.equal(r.status, 201)
  }
  return { partition, ts, hash: hashPath(HASH_CFG, 'a', 'c', name) }
}

async function deleteFrom(cluster: TestCluster, devices: string[], name: string) {
  const { partition } = cluster.objectRing.getNodes(HASH_CFG, 'a', 'c', name)
  const ts = freshTs()
  for (const d of devices) {
    const r = await call(cluster.nodeOf(d).object, { method: 'DELETE', path: `/${d}/${partition}/a/c/${name}`, headers: { 'x-timestamp': ts } })
    assert.equal(r.status, 204)
  }
  return ts
}

describe('object replicator on three devices (d1, d2 in-process; d3 over HTTP)', () => {
  let cluster: TestCluster
  const names = Array.from({ length: 24 }, (_, i) => `obj-${i}`)
  const all = ['d1', 'd2', 'd3']
  before(async () => { cluster = await startCluster([['d1', 'd2'], ['d3']]) })
  after(() => cluster.close())

  it('puts every object on every device (3 replicas, 3 devices)', async () => {
    for (let i = 0; i < names.length; i++) {
      await putTo(cluster, all, names[i], body(i), { 'x-object-meta-idx': String(i), 'content-type': `x/t${i}`,
        ...(i === 2 ? { 'content-disposition': 'inline', 'x-delete-at': String(Math.floor(Date.now() / 1000) + 86400) } : {}) })
    }
    // A fast POST on one object: its .meta must travel too.
    const { partition } = cluster.objectRing.getNodes(HASH_CFG, 'a', 'c', names[3])
    const post = freshTs()
    for (const d of all) {
      const r = await call(cluster.nodeOf(d).object, { method: 'POST', path: `/${d}/${partition}/a/c/${names[3]}`,
        headers: { 'x-timestamp': post, 'x-object-meta-color': 'red', 'content-type': 'text/new' } })
      assert.equal(r.status, 202)
    }
    const first = await replicator(cluster, ['d1']).runOnce()
    assert.equal(first.objectsPushed, 0, 'replicas written alike need nothing')
    assert.equal(first.failures, 0)
  })

  it('a wiped device is repopulated byte for byte by the replicators of the other devices', async () => {
    rmSync(join(cluster.nodeOf('d2').root, 'd2', 'objects'), { recursive: true, force: true })
    for (const n of names) assert.equal((await getFrom(cluster, 'd2', cluster.objectRing.getPartition(HASH_CFG, 'a', 'c', n), `/a/c/${n}`)).status, 404)

    const r1 = await replicator(cluster, ['d1']).runOnce()
    assert.equal(r1.failures, 0)
    assert.equal(r1.objectsPushed, names.length + 1, 'every .data, plus the one .meta')
    const r3 = await replicator(cluster, ['d3']).runOnce()
    assert.equal(r3.objectsPushed, 0, 'd1 already brought d2 up to date, and told it to rehash')
    assert.equal(r3.failures, 0)

    for (let i = 0; i < names.length; i++) {
      const part = cluster.objectRing.getPartition(HASH_CFG, 'a', 'c', names[i])
      const hash = hashPath(HASH_CFG, 'a', 'c', names[i])
      assert.deepEqual(objectFiles(cluster, 'd2', part, hash), objectFiles(cluster, 'd1', part, hash), names[i])
      for (const f of objectFiles(cluster, 'd1', part, hash)) {
        // The same files, byte for byte: metadata header and body.
        const a = readFileSync(objectFilePath(cluster, 'd1', part, hash, f))
        const b = readFileSync(objectFilePath(cluster, 'd2', part, hash, f))
        assert.deepEqual(fileMetadata(objectFilePath(cluster, 'd2', part, hash, f)), fileMetadata(objectFilePath(cluster, 'd1', part, hash, f)))
        assert.ok(b.equals(a), `${names[i]} ${f} byte-identical`)
        if (f.endsWith('.data')) assert.ok(b.subarray(b.length - body(i).length).equals(body(i)))
      }
      const got = await getFrom(cluster, 'd2', part, `/a/c/${names[i]}`)
      assert.equal(got.status, 200)
      assert.ok(got.buf.equals(body(i)))
      assert.equal(got.headers['x-object-meta-idx'], i === 3 ? undefined : String(i))
    }
    const meta = await getFrom(cluster, 'd2', cluster.objectRing.getPartition(HASH_CFG, 'a', 'c', names[3]), `/a/c/${names[3]}`)
    assert.equal(meta.headers['x-object-meta-color'], 'red')
    assert.equal(meta.headers['content-type'], 'text/new')
    const withDeleteAt = await getFrom(cluster, 'd2', cluster.objectRing.getPartition(HASH_CFG, 'a', 'c', names[2]), `/a/c/${names[2]}`)
    assert.equal(withDeleteAt.headers['content-disposition'], 'inline')
    assert.ok(withDeleteAt.headers['x-delete-at'])

    const again = await replicator(cluster, ['d1']).runOnce()
    assert.equal(again.objectsPushed, 0)
    assert.ok(again.hashMatches > 0)
  })

  it('repopulates a device on another node over HTTP', async () => {
    rmSync(join(cluster.nodeOf('d3').root, 'd3', 'objects'), { recursive: true, force: true })
    const r = await replicator(cluster, ['d2']).runOnce()
    assert.equal(r.failures, 0)
    assert.equal(r.objectsPushed, names.length + 1, 'every .data and the .meta')
    for (let i = 0; i < names.length; i++) {
      const got = await getFrom(cluster, 'd3', cluster.objectRing.getPartition(HASH_CFG, 'a', 'c', names[i]), `/a/c/${names[i]}`)
      assert.equal(got.status, 200)
      assert.ok(got.buf.equals(body(i)), names[i])
    }
  })

  it('propagates a tombstone that reached only 2 of 3 replicas', async () => {
    const name = names[5]
    const { partition, hash } = await putTo(cluster, all, `${name}-t`, Buffer.from('to be deleted'))
    const ts = await deleteFrom(cluster, ['d1', 'd3'], `${name}-t`)
    assert.equal((await getFrom(cluster, 'd2', partition, `/a/c/${name}-t`)).status, 200)
    const r = await replicator(cluster, ['d3']).runOnce()
    assert.equal(r.failures, 0)
    assert.ok(r.objectsPushed >= 1)
    assert.deepEqual(objectFiles(cluster, 'd2', partition, hash), [`${ts}.ts`])
    const got = await getFrom(cluster, 'd2', partition, `/a/c/${name}-t`)
    assert.equal(got.status, 404)
    assert.equal(got.headers['x-backend-timestamp'], ts)
  })

  it('replaces an older version and leaves a newer one alone', async () => {
    const name = 'versioned'
    const { partition, hash } = await putTo(cluster, all, name, Buffer.from('v1'))
    const { ts: t2 } = await putTo(cluster, ['d2'], name, Buffer.from('v2'))
    await replicator(cluster, ['d1']).runOnce() // d1 has the older copy: pushes nothing over v2
    assert.equal((await getFrom(cluster, 'd2', partition, `/a/c/${name}`)).text, 'v2')
    await replicator(cluster, ['d2']).runOnce()
    for (const d of all) {
      assert.equal((await getFrom(cluster, d, partition, `/a/c/${name}`)).text, 'v2', d)
      assert.deepEqual(objectFiles(cluster, d, partition, hash), [`${t2}.data`])
    }
  })
})

describe('object replicator with handoffs (4 devices, 3 replicas)', () => {
  let cluster: TestCluster
  before(async () => { cluster = await startCluster([['d1', 'd2'], ['d3', 'd4']]) })
  after(() => cluster.close())

  it('uses a handoff for an unmounted primary, then moves the handoff partition back and removes it', async () => {
    const name = 'handed-off'
    const { partition, nodes } = cluster.objectRing.getNodes(HASH_CFG, 'a', 'c', name)
    const primaries = nodes.map((d) => d.device)
    const handoff = ['d1', 'd2', 'd3', 'd4'].find((d) => !primaries.includes(d))!
    const [p1, p2, p3] = primaries
    const p3Dir = join(cluster.nodeOf(p3).root, p3)
    rmSync(p3Dir, { recursive: true }) // an unmounted disk: its server answers 507
    const { hash } = await putTo(cluster, [p1, p2], name, Buffer.from('handoff data'))

    const r = await replicator(cluster, [p1]).runOnce()
    assert.equal(r.unmounted, 1)
    assert.equal(r.failures, 0)
    assert.equal(objectFiles(cluster, handoff, partition, hash).length, 1, 'the first handoff got a copy')

    mkdirSync(p3Dir) // the disk is back
    await new Promise((res) => setTimeout(res, 1100)) // object servers re-check devices after 1 s
    const h = await replicator(cluster, [handoff]).runOnce()
    assert.equal(h.handoffPartitions, 1)
    assert.equal(h.failures, 0)
    assert.equal(h.partitionsRemoved, 1)
    assert.equal(h.handoffObjectsRemoved, 1)
    for (const d of primaries) assert.equal((await getFrom(cluster, d, partition, `/a/c/${name}`)).text, 'handoff data', d)
    assert.equal(existsSync(join(cluster.nodeOf(handoff).root, handoff, 'objects', String(partition))), false)
  })

  it('keeps a handoff partition while a primary cannot take it', async () => {
    const name = 'stuck-handoff'
    const { partition, nodes } = cluster.objectRing.getNodes(HASH_CFG, 'a', 'c', name)
    const handoff = ['d1', 'd2', 'd3', 'd4'].find((d) => !nodes.some((n) => n.device === d))!
    const { hash } = await putTo(cluster, [handoff], name, Buffer.from('only here'))
    const down = nodes[0]
    // One primary's node refuses connections: its URL points at a closed port.
    const node = cluster.nodeOf(handoff)
    const rep = new ObjectReplicator({
      devicesRoot: node.root, devices: [handoff], hashConfig: HASH_CFG, myNodes: node.myNodes, disk: node.disk,
      ring: cluster.objectRing, timeoutMs: 2000,
      client: (dev, kind) => (dev.id === down.id ? 'http://127.0.0.1:9' : node.client(dev, kind)),
    })
    const r = await rep.runOnce()
    assert.equal(r.failures, 1)
    assert.equal(r.partitionsRemoved, 0)
    assert.equal(objectFiles(cluster, handoff, partition, hash).length, 1, 'nothing deleted before every primary has it')
    const r2 = await replicator(cluster, [handoff]).runOnce()
    assert.equal(r2.failures, 0)
    assert.equal(objectFiles(cluster, handoff, partition, hash).length, 0)
    for (const n of nodes) assert.equal((await getFrom(cluster, n.device, partition, `/a/c/${name}`)).text, 'only here')
  })
})
