import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { json } from '../instances.ts'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { insertServer, registerHost, rowOf } from './actions-testing.ts'

describe('server addresses and password', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  let reader: { projectId: string; userId: string; token: string }
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
    reader = await h.projectUser('member')
    await registerHost(h)
  })
  after(async () => { await h.close() })
  const ADDRS = { user: [{ version: 4, addr: '169.254.0.15', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01' }] }

  it('lists addresses per network in the basic view; an unknown network or server is 404', async () => {
    const s = await insertServer(h, { project_id: member.projectId, user_id: member.userId, addresses: JSON.stringify(ADDRS) })
    let r = await h.json('GET', `/v2.1/servers/${s.uuid}/ips`, { token: member.token })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, { addresses: { user: [{ version: 4, addr: '169.254.0.15' }] } })
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/ips/user`, { token: member.token })
    assert.deepEqual(r.body, { user: [{ version: 4, addr: '169.254.0.15' }] })
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/ips/private`, { token: member.token })
    assert.equal(r.status, 404)
    assert.equal(r.body.itemNotFound.message, 'Instance is not a member of specified network')
    // Another project's server does not exist for the caller.
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/ips`, { token: reader.token })
    assert.equal(r.status, 404)
  })

  it('shows the password the guest posted and clears it', async () => {
    const s = await insertServer(h, { project_id: member.projectId, user_id: member.userId,
      system_metadata: JSON.stringify({ password_0: 'abc', password_1: 'def', disk_config: 'AUTO' }) })
    let r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-server-password`, { token: member.token })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, { password: 'abcdef' })
    r = await h.json('DELETE', `/v2.1/servers/${s.uuid}/os-server-password`, { token: member.token })
    assert.equal(r.status, 204)
    const sys = json<Record<string, string>>((await rowOf(h, s.uuid)).system_metadata, {})
    assert.equal(sys.password_0, '')
    assert.equal(sys.disk_config, 'AUTO', 'other system metadata stays')
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-server-password`, { token: member.token })
    assert.deepEqual(r.body, { password: '' })
    r = await h.json('DELETE', `/v2.1/servers/${s.uuid}/os-server-password`, { token: reader.token })
    assert.equal(r.status, 404)
  })
})
