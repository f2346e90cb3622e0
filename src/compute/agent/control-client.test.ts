import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { ADMIN_PASSWORD } from '../../identity/testing.ts'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { ControlClient, passwordTokenProvider } from './control-client.ts'

describe('agent API client and token provider', () => {
  let h: ComputeHarness
  let controlUrl: string
  let identityUrl: string
  before(async () => {
    h = await computeHarness()
    await h.compute.api.listen({ host: '127.0.0.1', port: 0 })
    controlUrl = `http://127.0.0.1:${(h.compute.api.server.address() as AddressInfo).port}`
    await h.identity.identity.api.listen({ host: '127.0.0.1', port: 0 })
    identityUrl = `http://127.0.0.1:${(h.identity.identity.api.server.address() as AddressInfo).port}`
  })
  after(async () => {
    await h.compute.api.close()
    await h.identity.identity.api.close()
    await h.close()
  })
  const body = { hypervisor_type: 'fake', hypervisor_version: 1000, vcpus: 2, memory_mb: 2048, local_gb: 10, host_ip: '127.0.0.1', agent_url: 'http://127.0.0.1:1' }

  test('password provider logs in once, keeps the token, renews when asked', async () => {
    const token = passwordTokenProvider({ identityUrl: `${identityUrl}/v3`, userName: 'admin', password: ADMIN_PASSWORD, projectName: 'admin' })
    const [a, b] = await Promise.all([token(), token()])
    assert.equal(a, b)
    assert.equal(await token(), a)
    const c = await token({ renew: true })
    assert.ok(c && c !== a)
    const bad = passwordTokenProvider({ identityUrl, userName: 'admin', password: 'wrong', projectName: 'admin' })
    await assert.rejects(bad(), /Keystone refused the agent's login \(401\)/)
  })

  test('a refused token is renewed once; register, watch and report work', async () => {
    let renewed = 0
    const client = new ControlClient(controlUrl, 'cc-h1', async (o = {}) => {
      if (o.renew) renewed++
      return renewed ? h.identity.adminToken : 'expired-token'
    })
    const r = await client.register(body)
    assert.equal(renewed, 1)
    assert.match(r.compute_node.uuid, /^[0-9a-f-]{36}$/)
    const w = await client.watch(undefined, 1)
    assert.deepEqual(w, { revision: 0, instances: [] })
    const t0 = Date.now()
    await client.watch(0, 1)
    assert.ok(Date.now() - t0 >= 900, 'the long-poll waits when nothing changed')
    assert.equal(await client.report('00000000-0000-0000-0000-000000000000', { host: 'cc-h1', gen: 1, power_state: 'running' }), 'gone')
  })

  test('a token without the right is an error, not a retry loop', async () => {
    const member = await h.projectUser('member')
    const client = new ControlClient(controlUrl, 'cc-h2', async () => member.token)
    await assert.rejects(client.register(body), /answered 403/)
  })
})
