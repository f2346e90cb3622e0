import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { call, freshTs, putCall } from '../storage/object-test-kit.ts'
import { nodeKey } from './common.ts'
import { ObjectUpdater } from './object-updater.ts'
import { HASH_CFG, type TestCluster, startCluster } from './test-cluster.ts'

describe('object updater', () => {
  let cluster: TestCluster
  before(async () => { cluster = await startCluster([['d1', 'd2'], ['d3']]) })
  after(() => cluster.close())

  const pending = (device: string): string[] => {
    const dir = join(cluster.nodeOf(device).root, device, 'async_pending')
    return existsSync(dir) ? readdirSync(dir).flatMap((s) => readdirSync(join(dir, s))) : []
  }
  const listing = async (c: string) => {
    const out: string[][] = []
    const { partition, nodes } = cluster.containerRing.getNodes(HASH_CFG, 'a', c)
    for (const n of nodes) {
      const r = await call(cluster.nodeOf(n.device).container, { method: 'GET', path: `/${n.device}/${partition}/a/${c}`, query: 'format=json' })
      out.push(r.status === 200 ? (JSON.parse(r.text) as { name: string }[]).map((o) => o.name) : [])
    }
    return out
  }
  const createContainer = async (c: string) => {
    const { partition, nodes } = cluster.containerRing.getNodes(HASH_CFG, 'a', c)
    for (const n of nodes) {
      const r = await call(cluster.nodeOf(n.device).container, { method: 'PUT', path: `/${n.device}/${partition}/a/${c}`, headers: { 'x-timestamp': freshTs() } })
      assert.equal(r.status, 201)
    }
  }
  /** PUTs an object to d1 naming the container replicas (or `hosts` instead) for its update. */
  const putObject = async (c: string, name: string, hosts?: string) => {
    const cont = cluster.containerRing.getNodes(HASH_CFG, 'a', c)
    const part = cluster.objectRing.getPartition(HASH_CFG, 'a', c, name)
    const r = await call(cluster.nodeOf('d1').object, putCall(`/d1/${part}/a/${c}/${name}`, 'body', {
      'x-container-host': hosts ?? cont.nodes.map(nodeKey).join(','),
      'x-container-device': cont.nodes.map((n) => n.device).join(','),
      'x-container-partition': String(cont.partition),
    }))
    assert.equal(r.status, 201)
  }
  const updater = (withRing: boolean) => {
    const node = cluster.nodeOf('d1')
    return new ObjectUpdater({ devicesRoot: node.root, devices: ['d1'], hashConfig: HASH_CFG, client: node.client, disk: node.disk,
      containerRing: withRing ? cluster.containerRing : undefined, ring: cluster.objectRing, myNodes: node.myNodes })
  }

  it('retries a container update that failed (the container did not exist yet) and then drops the record', async () => {
    await putObject('late', 'o1')
    assert.equal(pending('d1').length, 1, 'the failed update was saved')
    assert.deepEqual(await listing('late'), [[], [], []])
    const failing = await updater(false).runOnce()
    assert.deepEqual([failing.successes, failing.failures], [0, 1])
    assert.equal(pending('d1').length, 1, 'still owed')

    await createContainer('late')
    const s = await updater(false).runOnce()
    assert.deepEqual([s.successes, s.failures], [1, 0])
    assert.equal(pending('d1').length, 0)
    assert.deepEqual(await listing('late'), [['o1'], ['o1'], ['o1']])
  })

  it('sends a saved update to the container ring\'s current replicas', async () => {
    await createContainer('moved')
    const cont = cluster.containerRing.getNodes(HASH_CFG, 'a', 'moved')
    await putObject('moved', 'o2', cont.nodes.map(() => '127.0.0.1:9').join(',')) // replicas unreachable at write time
    assert.equal(pending('d1').length, 1)
    const s = await updater(true).runOnce()
    assert.deepEqual([s.successes, s.failures], [1, 0])
    assert.equal(pending('d1').length, 0)
    assert.deepEqual(await listing('moved'), [['o2'], ['o2'], ['o2']])
  })

  it('runs periodically until stopped', async () => {
    await putObject('loop', 'o3')
    const u = updater(false)
    await createContainer('loop')
    u.start(60_000)
    for (let i = 0; i < 100 && !u.lastStats; i++) await new Promise((r) => setTimeout(r, 20))
    await u.stop()
    assert.equal(u.lastStats?.successes, 1)
    assert.equal(pending('d1').length, 0)
  })
})
