import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { insertServer } from './actions-testing.ts'

describe('os-simple-tenant-usage', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  let a: string
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
    // Server a: launched 10:00, still running. Server b: 11:00 to 11:30, deleted. Server c: after the period.
    a = (await insertServer(h, { project_id: member.projectId, user_id: member.userId, display_name: 'a',
      created_at: '2026-01-01T09:59:00.000Z', launched_at: '2026-01-01T10:00:00.000Z' })).uuid
    await insertServer(h, { project_id: member.projectId, user_id: member.userId, display_name: 'b', created_at: '2026-01-01T10:59:00.000Z',
      launched_at: '2026-01-01T11:00:00.000Z', terminated_at: '2026-01-01T11:30:00.000Z', deleted: 1, vm_state: 'deleted' })
    await insertServer(h, { project_id: member.projectId, user_id: member.userId, display_name: 'c', created_at: '2026-01-02T00:00:00.000Z',
      launched_at: '2026-01-02T00:00:00.000Z' })
  })
  after(async () => { await h.close() })

  it('charges hours × flavor inside the period, deleted servers too', async () => {
    const r = await h.json('GET', `/v2.1/os-simple-tenant-usage/${member.projectId}?start=2026-01-01T09:00:00&end=2026-01-01T12:00:00`,
      { token: member.token })
    assert.equal(r.status, 200)
    const u = r.body.tenant_usage
    assert.equal(u.total_hours, 2.5)
    assert.equal(u.total_vcpus_usage, 2.5)
    assert.equal(u.total_memory_mb_usage, 512 * 2.5)
    assert.equal(u.total_local_gb_usage, 2.5)
    assert.equal(u.server_usages.length, 2)
    const b = u.server_usages.find((s: any) => s.name === 'b')
    assert.equal(b.state, 'terminated'); assert.equal(b.hours, 0.5); assert.equal(b.uptime, 1800)
    assert.equal(b.started_at, '2026-01-01T11:00:00.000000'); assert.equal(b.ended_at, '2026-01-01T11:30:00.000000')
    assert.equal(u.start, '2026-01-01T09:00:00.000000+00:00')
  })

  it('lists all tenants for admins, detailed and paged (2.40)', async () => {
    let r = await h.json('GET', '/v2.1/os-simple-tenant-usage?start=2026-01-01T09:00:00&end=2026-01-01T12:00:00', { token: member.token })
    assert.equal(r.status, 403)
    r = await h.json('GET', '/v2.1/os-simple-tenant-usage?start=2026-01-01T09:00:00&end=2026-01-01T12:00:00')
    const mine = r.body.tenant_usages.find((t: any) => t.tenant_id === member.projectId)
    assert.equal(mine.total_hours, 2.5)
    assert.equal(mine.server_usages, undefined)
    r = await h.json('GET', '/v2.1/os-simple-tenant-usage?start=2026-01-01T09:00:00&end=2026-01-01T12:00:00&detailed=1&limit=1', { version: '2.40' })
    assert.equal(r.body.tenant_usages[0].server_usages.length, 1)
    assert.equal(r.body.tenant_usages[0].server_usages[0].instance_id, a)
    assert.ok(r.body.tenant_usages_links[0].href.includes(`marker=${a}`))
  })

  it('rejects bad times', async () => {
    let r = await h.json('GET', `/v2.1/os-simple-tenant-usage/${member.projectId}?start=yesterday`, { token: member.token })
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'Datetime is in invalid format')
    r = await h.json('GET', `/v2.1/os-simple-tenant-usage/${member.projectId}?start=2026-01-02T00:00:00&end=2026-01-01T00:00:00`, { token: member.token })
    assert.equal(r.status, 400)
    const other = await h.projectUser('member')
    r = await h.json('GET', `/v2.1/os-simple-tenant-usage/${member.projectId}`, { token: other.token })
    assert.equal(r.status, 403)
  })

  it('an empty tenant id (a trailing slash) is 404, as Nova routes it to show', async () => {
    const r = await h.json('GET', '/v2.1/os-simple-tenant-usage/?start=2026-01-01T00:00:00&end=2026-02-01T00:00:00')
    assert.equal(r.status, 404)
    assert.equal((await h.json('GET', '/v2.1/os-simple-tenant-usage?start=2026-01-01T00:00:00&end=2026-02-01T00:00:00')).status, 200)
  })
})
