import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { call, freshTs, putCall } from '../storage/object-test-kit.ts'
import { type ObjectDaemons, createObjectDaemons } from './index.ts'
import { HASH_CFG, type TestCluster, getFrom, startCluster } from './test-cluster.ts'

describe('createObjectDaemons', () => {
  let cluster: TestCluster
  let daemons: ObjectDaemons[]
  before(async () => {
    cluster = await startCluster([['d1', 'd2'], ['d3']])
    daemons = cluster.nodes.map((node) => createObjectDaemons({
      devicesRoot: node.root, hashConfig: HASH_CFG, myNodes: node.myNodes, client: node.client, disk: node.disk,
      rings: { object: cluster.objectRing, container: cluster.containerRing, account: cluster.accountRing },
      containerServer: node.container, accountServer: node.account,
      intervals: { objectReplicator: 50, containerReplicator: 50, accountReplicator: 50, updater: 50, containerUpdater: 50, auditor: 0, expirer: 0 },
    }))
  })
  after(async () => {
    for (const d of daemons) await d.stop()
    await cluster.close()
  })

  it('started together, they repair a missing replica in the background, and stop cleanly', async () => {
    const { partition } = cluster.objectRing.getNodes(HASH_CFG, 'a', 'c', 'bg')
    const ts = freshTs()
    for (const d of ['d1', 'd3']) {
      assert.equal((await call(cluster.nodeOf(d).object, putCall(`/${d}/${partition}/a/c/bg`, 'background', { 'x-timestamp': ts }))).status, 201)
    }
    for (const d of daemons) d.start()
    let got = await getFrom(cluster, 'd2', partition, '/a/c/bg')
    for (let i = 0; i < 300 && got.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 20))
      got = await getFrom(cluster, 'd2', partition, '/a/c/bg')
    }
    assert.equal(got.text, 'background')
    await Promise.all(daemons.map((d) => d.stop()))
    assert.equal(daemons[1].auditor.lastStats, undefined, 'an interval of 0 leaves a daemon off')
    const again = await daemons[0].objectReplicator.runOnce() // usable on demand after stop
    assert.equal(again.failures, 0)
    assert.equal(again.objectsPushed, 0)
  })
})
