import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { insertServer } from './actions-testing.ts'

describe('os-server-groups', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  before(async () => { h = await computeHarness(); member = await h.projectUser('member') })
  after(async () => { await h.close() })
  const sg = (method: string, url: string, o: { body?: unknown; version?: string; token?: string } = {}) =>
    h.json(method, `/v2.1/os-server-groups${url}`, { token: member.token, ...o })

  it('creates, shows, lists and deletes with the views of 2.1, 2.13 and 2.64', async () => {
    let r = await sg('POST', '', { body: { server_group: { name: 'g1', policies: ['affinity'] } } })
    assert.equal(r.status, 200)
    assert.deepEqual(Object.keys(r.body.server_group).sort(), ['id', 'members', 'metadata', 'name', 'policies'])
    assert.deepEqual(r.body.server_group.policies, ['affinity'])
    const id = r.body.server_group.id
    r = await sg('GET', `/${id}`, { version: '2.13' })
    assert.equal(r.body.server_group.project_id, member.projectId)
    assert.equal(r.body.server_group.user_id, member.userId)
    r = await sg('GET', `/${id}`, { version: '2.64' })
    assert.deepEqual(Object.keys(r.body.server_group).sort(), ['id', 'members', 'name', 'policy', 'project_id', 'rules', 'user_id'])
    assert.equal(r.body.server_group.policy, 'affinity')
    // Members: live servers only.
    const s = await insertServer(h, { project_id: member.projectId, user_id: member.userId })
    const gone = await insertServer(h, { project_id: member.projectId, user_id: member.userId, deleted: 1, vm_state: 'deleted' })
    await h.compute.ctx.db.insertInto('server_group_members').values([{ group_uuid: id, instance_uuid: s.uuid }, { group_uuid: id, instance_uuid: gone.uuid }]).execute()
    r = await sg('GET', `/${id}`)
    assert.deepEqual(r.body.server_group.members, [s.uuid])
    r = await sg('POST', '', { version: '2.64', body: { server_group: { name: 'g2', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } } })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.server_group.rules, { max_server_per_host: 2 })
    r = await sg('GET', '')
    assert.equal(r.body.server_groups.length, 2)
    r = await sg('GET', '?limit=1&offset=1')
    assert.equal(r.body.server_groups.length, 1)
    assert.equal(r.body.server_groups[0].name, 'g2')
    // Another project neither sees nor deletes it; an admin lists all with all_projects.
    const other = await h.projectUser('member')
    r = await sg('GET', '', { token: other.token })
    assert.equal(r.body.server_groups.length, 0)
    r = await sg('GET', `/${id}`, { token: other.token })
    assert.equal(r.status, 403)
    r = await sg('GET', '?all_projects=True', { token: h.identity.adminToken })
    assert.ok(r.body.server_groups.length >= 2)
    r = await sg('DELETE', `/${id}`)
    assert.equal(r.status, 204)
    r = await sg('GET', `/${id}`)
    assert.equal(r.status, 404)
    r = await sg('DELETE', `/${id}`)
    assert.equal(r.status, 404)
  })

  it('rejects bad bodies with 400', async () => {
    const bad = [
      [{ server_group: { name: '', policies: ['affinity'] } }, '2.1'],
      [{ server_group: { name: 'x'.repeat(256), policies: ['affinity'] } }, '2.1'],
      [{ server_group: { name: 'a', policies: ['affinity', 'anti-affinity'] } }, '2.1'],
      [{ server_group: { name: 'a', policies: ['soft-affinity'] } }, '2.1'],
      [{ server_group: { name: 'a', policies: ['affinity'] } }, '2.64'],
      [{ server_group: { name: 'a', policy: 'affinity', rules: { max_server_per_host: 2 } } }, '2.64'],
      [{ server_group: { name: 'a', policy: 'anti-affinity', rules: { other: 1 } } }, '2.64'],
    ] as const
    for (const [body, version] of bad) {
      const r = await sg('POST', '', { body, version })
      assert.equal(r.status, 400, JSON.stringify(body))
    }
    const r = await sg('POST', '', { body: { server_group: { name: 'soft', policies: ['soft-affinity'] } }, version: '2.15' })
    assert.equal(r.status, 200)
    await sg('DELETE', `/${r.body.server_group.id}`)
  })

  it('enforces the server_groups quota', async () => {
    const p = await h.projectUser('member')
    await h.json('PUT', `/v2.1/os-quota-sets/${p.projectId}`, { body: { quota_set: { server_groups: 1 } } })
    let r = await sg('POST', '', { token: p.token, body: { server_group: { name: 'a', policies: ['affinity'] } } })
    assert.equal(r.status, 200)
    r = await sg('POST', '', { token: p.token, body: { server_group: { name: 'b', policies: ['affinity'] } } })
    assert.equal(r.status, 403)
    assert.equal(r.body.forbidden.message, 'Quota exceeded, too many server groups.')
    r = await sg('GET', '', { token: p.token })
    assert.equal(r.body.server_groups.length, 1)
  })
})
