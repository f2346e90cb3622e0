import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../../core/log.ts'
import { ComputeAgent } from '../agent/agent.ts'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { FakeDriver } from '../virt/fake.ts'

// A server's whole life through the servers API with the real conductor and a compute agent on
// the fake driver: create → BUILD → ACTIVE with an address, metadata to the agent, delete
// through the agent → gone, quota usage back to zero.

const HOST = 'flow-h1'

describe('server life through the API, the conductor and an agent', () => {
  let h: ComputeHarness
  let agent: ComputeAgent
  let dataDir: string
  let image: string
  let u: { projectId: string; userId: string; token: string }
  before(async () => {
    h = await computeHarness()
    await h.compute.api.listen({ host: '127.0.0.1', port: 0 })
    const controlUrl = `http://127.0.0.1:${(h.compute.api.server.address() as AddressInfo).port}`
    await h.identity.identity.api.listen({ host: '127.0.0.1', port: 0 })
    const identityUrl = `http://127.0.0.1:${(h.identity.identity.api.server.address() as AddressInfo).port}/v3`
    dataDir = mkdtempSync(join(tmpdir(), 'srv-flow-'))
    image = await h.makeImage({ data: Buffer.from('a tiny disk of sorts') })
    agent = new ComputeAgent({
      controlUrl, host: HOST, token: async () => h.identity.adminToken, identityUrl, glanceUrl: h.imageUrl,
      dataDir, driver: new FakeDriver(), log: createLogger({ level: 'silent' }), heartbeatMs: 100, watchWaitS: 1,
    })
    await agent.start()
    u = await h.projectUser('member')
    const r = await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'flow', id: 'fflow', ram: 128, vcpus: 1, disk: 1 } } })
    assert.equal(r.status, 200)
  })
  after(async () => {
    await agent?.stop()
    h.compute.api.server.closeAllConnections()
    await h.compute.api.close()
    await h.identity.identity.api.close()
    await h.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 15000): Promise<T> {
    const end = Date.now() + ms
    for (;;) {
      const v = await f()
      if (v) return v
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const show = async (id: string) => h.json('GET', `/v2.1/servers/${id}`, { token: u.token, version: '2.26' })

  test('create → ACTIVE on the agent\'s host → delete → gone', async () => {
    let r = await h.json('POST', '/v2.1/servers', { token: u.token, version: '2.52',
      body: { server: { name: 'life', imageRef: image, flavorRef: 'fflow', networks: 'auto', metadata: { role: 'web' }, tags: ['a'] } } })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    const id = r.body.server.id as string
    const active = await until('ACTIVE', async () => {
      const s = (await show(id)).body.server
      if (s.status === 'ERROR') throw new Error(`ERROR: ${JSON.stringify(s.fault)}`)
      return s.status === 'ACTIVE' && s
    })
    assert.equal(active['OS-EXT-STS:power_state'], 1)
    assert.equal(active['OS-EXT-STS:task_state'], null)
    assert.match(active.hostId, /^[0-9a-f]{56}$/)
    assert.ok(active['OS-SRV-USG:launched_at'])
    assert.deepEqual(active.tags, ['a'])
    const admin = (await h.json('GET', `/v2.1/servers/${id}`, { version: '2.16' })).body.server
    assert.equal(admin['OS-EXT-SRV-ATTR:host'], HOST)
    assert.equal(admin.host_status, 'UP')
    r = await h.json('GET', '/v2.1/limits', { token: u.token })
    assert.equal(r.body.limits.absolute.totalInstancesUsed, 1)

    // Metadata changes on a live server (ACTIVE, no task).
    r = await h.json('POST', `/v2.1/servers/${id}/metadata`, { token: u.token, body: { metadata: { tier: 'front' } } })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.metadata, { role: 'web', tier: 'front' })

    r = await h.json('DELETE', `/v2.1/servers/${id}`, { token: u.token })
    assert.equal(r.status, 204)
    await until('gone', async () => (await show(id)).status === 404)
    const row = await h.compute.ctx.db.selectFrom('instances').selectAll().where('uuid', '=', id).executeTakeFirstOrThrow()
    assert.equal(Number(row.deleted), 1)
    assert.equal(row.vm_state, 'deleted')
    r = await h.json('GET', '/v2.1/limits', { token: u.token })
    assert.equal(r.body.limits.absolute.totalInstancesUsed, 0)
    const allocs = await h.compute.ctx.db.selectFrom('allocations').selectAll().where('consumer_uuid', '=', id).execute()
    assert.equal(allocs.length, 0)
  })
})
