import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdirSync, openSync, readSync, readdirSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hashPath } from '../ring/hash.ts'
import { PREFIX_LEN } from '../storage/datafile.ts'
import { call, freshTs, putCall } from '../storage/object-test-kit.ts'
import { ObjectAuditor } from './object-auditor.ts'
import { ObjectReplicator } from './object-replicator.ts'
import { HASH_CFG, type TestCluster, getFrom, objectFilePath, objectFiles, startCluster } from './test-cluster.ts'

/** Flips one byte of a .data file's body, `at` bytes into the body. */
function flipBodyByte(path: string, at: number): void {
  const fd = openSync(path, 'r+')
  try {
    const head = Buffer.alloc(PREFIX_LEN)
    readSync(fd, head, 0, PREFIX_LEN, 0)
    const pos = PREFIX_LEN + head.readUInt32BE(4) + at
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, pos)
    b[0] ^= 0x01
    writeSync(fd, b, 0, 1, pos)
  } finally {
    closeSync(fd)
  }
}

describe('object auditor', () => {
  let cluster: TestCluster
  const objects = [
    { name: 'small', body: Buffer.from('a small object body that fits in the header read') },
    { name: 'large', body: Buffer.alloc(300 * 1024, 7) },
  ]
  before(async () => {
    cluster = await startCluster([['d1', 'd2'], ['d3']])
    for (const o of objects) {
      const { partition } = cluster.objectRing.getNodes(HASH_CFG, 'a', 'c', o.name)
      const ts = freshTs()
      for (const d of ['d1', 'd2', 'd3']) {
        assert.equal((await call(cluster.nodeOf(d).object, putCall(`/${d}/${partition}/a/c/${o.name}`, o.body, { 'x-timestamp': ts }))).status, 201)
      }
    }
  })
  after(() => cluster.close())

  const auditor = (devices: string[]) => {
    const node = cluster.nodeOf(devices[0])
    return new ObjectAuditor({ devicesRoot: node.root, devices, hashConfig: HASH_CFG, ring: cluster.objectRing, myNodes: node.myNodes,
      disk: node.disk, bytesPerSecond: 0, filesPerSecond: 0 })
  }
  const where = (name: string) => ({
    partition: cluster.objectRing.getPartition(HASH_CFG, 'a', 'c', name), hash: hashPath(HASH_CFG, 'a', 'c', name),
  })

  it('finds nothing wrong with good objects', async () => {
    const s = await auditor(['d2']).runOnce()
    assert.deepEqual(s, { filesChecked: 2, bytesChecked: objects[0].body.length + objects[1].body.length, quarantined: 0, errors: 0 })
  })

  it('quarantines a flipped byte; the replicator restores the object; the next audit is clean', async () => {
    for (const o of objects) {
      const { partition, hash } = where(o.name)
      const [file] = objectFiles(cluster, 'd2', partition, hash)
      flipBodyByte(objectFilePath(cluster, 'd2', partition, hash, file), o.body.length - 1)
    }
    const s = await auditor(['d2']).runOnce()
    assert.equal(s.quarantined, 2)
    assert.equal(s.errors, 0)
    const qdir = join(cluster.nodeOf('d2').root, 'd2', 'quarantined', 'objects')
    for (const o of objects) {
      const { partition, hash } = where(o.name)
      assert.ok(existsSync(join(qdir, hash)), `${o.name} quarantined`)
      assert.equal((await getFrom(cluster, 'd2', partition, `/a/c/${o.name}`)).status, 404)
    }

    const node = cluster.nodeOf('d1')
    const rep = new ObjectReplicator({ devicesRoot: node.root, devices: ['d1'], hashConfig: HASH_CFG, myNodes: node.myNodes,
      client: node.client, ring: cluster.objectRing, disk: node.disk })
    const r = await rep.runOnce()
    assert.equal(r.objectsPushed, 2)
    for (const o of objects) {
      const got = await getFrom(cluster, 'd2', where(o.name).partition, `/a/c/${o.name}`)
      assert.equal(got.status, 200)
      assert.ok(got.buf.equals(o.body))
    }
    assert.deepEqual(await auditor(['d2']).runOnce(), { filesChecked: 2, bytesChecked: objects[0].body.length + objects[1].body.length,
      quarantined: 0, errors: 0 })
  })

  it('quarantines an object whose name does not hash to its directory', async () => {
    const { partition, hash } = where('small')
    const fake = 'f'.repeat(29) + hash.slice(-3)
    const src = join(cluster.nodeOf('d1').root, 'd1', 'objects', String(partition), hash.slice(-3), hash)
    mkdirSync(join(src, '..', fake), { recursive: true })
    cpSync(src, join(src, '..', fake), { recursive: true })
    const s = await auditor(['d1']).runOnce()
    assert.equal(s.quarantined, 1)
    assert.ok(existsSync(join(cluster.nodeOf('d1').root, 'd1', 'quarantined', 'objects', fake)))
    assert.deepEqual(readdirSync(join(src, '..')).sort(), [hash])
  })
})
