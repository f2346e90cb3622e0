import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { insertServer, registerHost } from './actions-testing.ts'

describe('os-migrations', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
    await registerHost(h)
    await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'mg.big', id: 'mg-big', ram: 1024, vcpus: 2, disk: 2 } } })
  })
  after(async () => { await h.close() })

  it('lists each resize as a migration with its status; admins only', async () => {
    const empty = await h.json('GET', '/v2.1/os-migrations')
    assert.equal(empty.status, 200)
    assert.deepEqual(empty.body, { migrations: [] })
    const s = await insertServer(h, { project_id: member.projectId, user_id: member.userId })
    const r = await h.json('POST', `/v2.1/servers/${s.uuid}/action`, { token: member.token, body: { resize: { flavorRef: 'mg-big' } } })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    const list = await h.json('GET', '/v2.1/os-migrations')
    assert.equal(list.body.migrations.length, 1)
    const m = list.body.migrations[0]
    assert.equal(m.instance_uuid, s.uuid)
    assert.equal(m.status, 'migrating')
    assert.equal(m.source_compute, 'host1')
    assert.deepEqual(Object.keys(m).sort(), ['created_at', 'dest_compute', 'dest_host', 'dest_node', 'id', 'instance_uuid',
      'new_instance_type_id', 'old_instance_type_id', 'source_compute', 'source_node', 'status', 'updated_at'])
    const v259 = await h.json('GET', `/v2.1/os-migrations?instance_uuid=${s.uuid}`, { version: '2.59' })
    assert.equal(v259.body.migrations[0].migration_type, 'resize')
    assert.match(v259.body.migrations[0].uuid, /^[0-9a-f-]{36}$/)
    assert.deepEqual((await h.json('GET', '/v2.1/os-migrations?instance_uuid=other')).body.migrations, [])
    const denied = await h.json('GET', '/v2.1/os-migrations', { token: member.token })
    assert.equal(denied.status, 403)
  })
})
