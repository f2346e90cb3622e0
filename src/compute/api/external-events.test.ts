import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { insertServer, registerHost } from './actions-testing.ts'

describe('external events and diagnostics', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  before(async () => { h = await computeHarness(); member = await h.projectUser('member'); await registerHost(h) })
  after(async () => { await h.close() })
  const post = (body: unknown, token = h.identity.adminToken) => h.json('POST', '/v2.1/os-server-external-events', { token, body })

  it('answers each event per server: 200, 404 unknown, 422 on no host; 207 when mixed, 404 when none', async () => {
    const s = await insertServer(h, { project_id: member.projectId, user_id: member.userId })
    const unplaced = await insertServer(h, { project_id: member.projectId, user_id: member.userId, host: null, node: null })
    let r = await post({ events: [{ name: 'network-changed', server_uuid: s.uuid }] })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.events, [{ server_uuid: s.uuid, name: 'network-changed', status: 'completed', code: 200 }])
    const unknown = '00000000-0000-4000-8000-000000000000'
    r = await post({ events: [{ name: 'network-vif-plugged', server_uuid: s.uuid, tag: 'port1' },
      { name: 'network-changed', server_uuid: unknown }, { name: 'network-changed', server_uuid: unplaced.uuid }] })
    assert.equal(r.status, 207)
    assert.deepEqual(r.body.events.map((e: any) => e.code), [200, 404, 422])
    assert.equal((await post({ events: [{ name: 'network-changed', server_uuid: unknown }] })).status, 404)
    assert.equal((await post({ events: [] })).status, 400)
    assert.equal((await post({ events: [{ name: 'power-update', server_uuid: s.uuid }] })).status, 400, 'power-update needs 2.76')
    assert.equal((await post({ events: [{ name: 'network-changed', server_uuid: s.uuid }] }, member.token)).status, 403)
  })

  it('diagnostics: admin only, then 501 (no agent reports them)', async () => {
    const s = await insertServer(h, { project_id: member.projectId, user_id: member.userId })
    assert.equal((await h.json('GET', `/v2.1/servers/${s.uuid}/diagnostics`, { token: member.token })).status, 403)
    const r = await h.json('GET', `/v2.1/servers/${s.uuid}/diagnostics`)
    assert.equal(r.status, 501)
    assert.equal((await h.json('GET', '/v2.1/servers/00000000-0000-4000-8000-000000000000/diagnostics')).status, 404)
  })
})
