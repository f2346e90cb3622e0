// The container sync daemon end to end: a proxy on a real port (the destination, here the same
// cluster), containers in two accounts, passes run on demand.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createCore } from '../../core/index.ts'
import { createSwiftProxy } from '../proxy/app.ts'
import { containerSyncSettings } from '../proxy/container-sync-realms.ts'
import { defaultMiddlewares } from '../proxy/middlewares.ts'
import { hostOf } from '../proxy/storage-client.ts'
import { type SwiftFixture, swiftFixture } from '../proxy/test-kit.ts'
import { ContainerBroker } from '../storage/container-broker.ts'
import { nodeKey } from './common.ts'
import { ContainerSync } from './container-sync.ts'
import { listDbs } from './db-walk.ts'

let f: SwiftFixture
let core: ReturnType<typeof createCore>
let proxy: ReturnType<typeof createSwiftProxy>
let daemon: ContainerSync
let port: number
let bob: Awaited<ReturnType<SwiftFixture['user']>>
let A: string
let B: string

const call = (method: string, url: string, o: { token?: string | null; headers?: Record<string, string>; body?: string } = {}) => {
  const headers = { ...o.headers }
  const token = o.token === undefined ? f.h.adminToken : o.token
  if (token) headers['x-auth-token'] = token
  return proxy.api.inject({ method: method as 'GET', url, headers, payload: o.body })
}

before(async () => {
  f = await swiftFixture()
  core = createCore({ database: 'sqlite::memory:', logLevel: 'silent' })
  const self = { realm: 'cumulo', cluster: 'local', hashConfig: f.store.cluster.hashConfig }
  proxy = createSwiftProxy({ log: core.log, policy: core.policy, auth: () => f.h.identity.auth, client: f.store.client,
    middlewares: defaultMiddlewares(), containerSync: containerSyncSettings({ self: { ...self, endpoint: 'unused' } }) })
  await proxy.api.listen({ host: '127.0.0.1', port: 0 })
  port = (proxy.api.server.address() as AddressInfo).port
  const { rings, devicesRoot, hashConfig } = f.store.cluster
  const myNodes = new Set([...rings.container.devs, ...rings.object.devs].filter((d) => d !== null).map((d) => nodeKey(d!)))
  daemon = new ContainerSync({
    devicesRoot, hashConfig, myNodes, client: (dev) => f.store.client.route(hostOf(dev)),
    containerRing: rings.container, objectRing: rings.object,
    settings: containerSyncSettings({ self: { ...self, endpoint: `http://127.0.0.1:${port}/v1/` } }),
  })
  bob = await f.user('sync-dst')
  A = `/v1/${f.account}`
  B = `/v1/${bob.account}`
})
after(async () => {
  await daemon?.stop()
  await proxy?.api.close()
  await core?.db.close()
  await f?.close()
})

/** Sets up a source container syncing to a destination container of bob's. */
async function pair(src: string, dst: string, to: string, key = 'sk', dstKey = key) {
  assert.equal((await call('PUT', `${B}/${dst}`, { token: bob.token, headers: { 'x-container-sync-key': dstKey } })).statusCode, 201)
  assert.equal((await call('PUT', `${A}/${src}`, { headers: { 'x-container-sync-to': to, 'x-container-sync-key': key } })).statusCode, 201)
}

describe('container sync daemon', () => {
  it('replays new objects (with their timestamps and metadata) and deletions to a realm destination', async () => {
    await pair('src', 'dst', `//cumulo/local/${bob.account}/dst`)
    await call('PUT', `${A}/src/one`, { body: 'first', headers: { 'x-object-meta-color': 'red', 'content-type': 'text/x-one' } })
    await call('PUT', `${A}/src/two words`, { body: 'second' })
    const s1 = await daemon.runOnce()
    assert.equal(s1.puts, 2, JSON.stringify(s1))
    assert.equal(s1.failures, 0)
    const src = await call('HEAD', `${A}/src/one`)
    const got = await call('GET', `${B}/dst/one`, { token: bob.token })
    assert.equal(got.body, 'first')
    assert.equal(got.headers['x-object-meta-color'], 'red')
    assert.equal(got.headers['content-type'], 'text/x-one')
    assert.equal(got.headers['x-timestamp'], src.headers['x-timestamp'])
    assert.equal((await call('GET', `${B}/dst/two%20words`, { token: bob.token })).body, 'second')

    // The next pass goes over the same rows once more (every replica) and finds them there.
    const s2 = await daemon.runOnce()
    assert.equal(s2.puts, 0)
    assert.equal(s2.failures, 0)
    assert.ok(s2.synced >= 3, 'every replica of the container takes part')

    assert.equal((await call('DELETE', `${A}/src/one`)).statusCode, 204)
    const s3 = await daemon.runOnce()
    assert.ok(s3.deletes >= 1)
    assert.equal((await call('GET', `${B}/dst/one`, { token: bob.token })).statusCode, 404)
    assert.equal((await call('GET', `${B}/dst?format=json`, { token: bob.token })).body.includes('two words'), true)
  })

  it('keeps its sync points in the container DBs', async () => {
    const dbs = await listDbs(f.store.cluster.devicesRoot, f.store.cluster.rings.container.devs.filter((d) => d !== null) as never, 'containers')
    const points = dbs.map((d) => ContainerBroker.open(d.path)).map((b) => {
      try { const i = b.getInfo(); return i.container === 'src' ? [i.x_container_sync_point1, i.x_container_sync_point2] : undefined } finally { b.close() }
    }).filter((p) => p !== undefined)
    assert.equal(points.length, 3)
    for (const [p1, p2] of points) {
      assert.ok(p1! > 0)
      assert.ok(p2! > 0)
    }
  })

  it('plain URL destinations carry the sync key', async () => {
    await pair('plain', 'dst2', `http://127.0.0.1:${port}/v1/${bob.account}/dst2`, 'pk')
    await call('PUT', `${A}/plain/p`, { body: 'plain body' })
    const s = await daemon.runOnce()
    assert.equal(s.puts, 1)
    assert.equal((await call('GET', `${B}/dst2/p`, { token: bob.token })).body, 'plain body')
  })

  it('a refused row is sent again on a later pass', async () => {
    await pair('src3', 'dst3', `//cumulo/local/${bob.account}/dst3`, 'k3', 'not-k3')
    await call('PUT', `${A}/src3/late`, { body: 'late' })
    const s1 = await daemon.runOnce()
    assert.ok(s1.failures >= 1)
    assert.equal((await call('GET', `${B}/dst3/late`, { token: bob.token })).statusCode, 404)
    await call('POST', `${B}/dst3`, { token: bob.token, headers: { 'x-container-sync-key': 'k3' } })
    const s2 = await daemon.runOnce()
    assert.ok(s2.puts >= 1, JSON.stringify(s2))
    assert.equal((await call('GET', `${B}/dst3/late`, { token: bob.token })).body, 'late')
  })

  it('skips invalid destinations and containers without sync', async () => {
    // Written straight to the container server's metadata: the proxy would refuse this value.
    const { partition, nodes } = f.store.cluster.rings.container.getNodes(f.store.cluster.hashConfig, f.account, 'bad')
    await call('PUT', `${A}/bad`)
    for (const n of nodes) {
      const r = await f.store.servers.container({ method: 'POST', path: `/${n.device}/${partition}/${f.account}/bad`, query: new URLSearchParams(),
        headers: { 'x-timestamp': `${(Date.now() / 1000 + 1).toFixed(5)}`, 'x-container-sync-to': 'http://10.9.9.9/v1/a/c', 'x-container-sync-key': 'x' } })
      assert.equal(r.status, 204)
    }
    const s = await daemon.runOnce()
    assert.ok(s.skipped >= 3, JSON.stringify(s))
    assert.ok(s.checked >= 10)
  })
})
