import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { call, freshTs } from '../storage/object-test-kit.ts'
import { ContainerUpdater } from './container-updater.ts'
import { HASH_CFG, type TestCluster, type TestNode, startCluster } from './test-cluster.ts'

describe('container updater', () => {
  let cluster: TestCluster
  before(async () => { cluster = await startCluster([['d1', 'd2'], ['d3']]) })
  after(() => cluster.close())

  const updater = (node: TestNode) => new ContainerUpdater({
    devicesRoot: node.root, hashConfig: HASH_CFG, myNodes: node.myNodes, client: node.client,
    containerRing: cluster.containerRing, accountRing: cluster.accountRing,
  })
  const container = async (account: string, c: string, rows: number[]) => {
    const { partition, nodes } = cluster.containerRing.getNodes(HASH_CFG, account, c)
    for (const n of nodes) {
      const srv = cluster.nodeOf(n.device).container
      assert.equal((await call(srv, { method: 'PUT', path: `/${n.device}/${partition}/${account}/${c}`, headers: { 'x-timestamp': freshTs() } })).status, 201)
      for (let i = 0; i < rows.length; i++) {
        const r = await call(srv, { method: 'PUT', path: `/${n.device}/${partition}/${account}/${c}/o${i}`,
          headers: { 'x-timestamp': freshTs(), 'x-size': String(rows[i]), 'x-content-type': 'a/b', 'x-etag': 'e' } })
        assert.equal(r.status, 201)
      }
    }
  }
  const accountHeads = async (account: string) => {
    const { partition, nodes } = cluster.accountRing.getNodes(HASH_CFG, account)
    return Promise.all(nodes.map(async (n) => {
      const r = await call(cluster.nodeOf(n.device).account, { method: 'HEAD', path: `/${n.device}/${partition}/${account}` })
      return [r.headers['x-account-container-count'], r.headers['x-account-object-count'], r.headers['x-account-bytes-used']]
    }))
  }

  it('reports container counts to every account replica, once', async () => {
    const { partition, nodes } = cluster.accountRing.getNodes(HASH_CFG, 'AUTH_u')
    for (const n of nodes) {
      assert.equal((await call(cluster.nodeOf(n.device).account, { method: 'PUT', path: `/${n.device}/${partition}/AUTH_u`, headers: { 'x-timestamp': freshTs() } })).status, 201)
    }
    await container('AUTH_u', 'c', [10, 20, 30])
    assert.deepEqual(await accountHeads('AUTH_u'), [['0', '0', '0'], ['0', '0', '0'], ['0', '0', '0']])
    const stats = []
    for (const node of cluster.nodes) stats.push(await updater(node).runOnce())
    assert.equal(stats.reduce((n, s) => n + s.successes, 0), 3, 'each container replica reported')
    assert.deepEqual(await accountHeads('AUTH_u'), [['1', '3', '60'], ['1', '3', '60'], ['1', '3', '60']])
    const again = await updater(cluster.nodes[0]).runOnce()
    assert.equal(again.successes, 0, 'nothing changed since the last report')
    assert.equal(again.failures, 0)
  })

  it('backs off from an account that does not exist', async () => {
    await container('AUTH_none', 'c', [1])
    const u = updater(cluster.nodes[1])
    const first = await u.runOnce()
    assert.equal(first.failures, 1)
    const second = await u.runOnce()
    assert.deepEqual([second.failures, second.suppressed], [0, 1])
  })
})
