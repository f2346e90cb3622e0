import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { insertServer, registerHost } from './actions-testing.ts'

describe('os-hosts', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
    await registerHost(h, 'host1')
    await registerHost(h, 'host2', { zone: 'az2' })
  })
  after(async () => { await h.close() })
  const get = (url: string, o: { token?: string; version?: string } = {}) => h.json('GET', url, { token: o.token ?? h.identity.adminToken, version: o.version })

  it('lists the compute hosts with their zone, filtered by zone; admin only; gone from 2.43', async () => {
    let r = await get('/v2.1/os-hosts')
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.hosts, [{ host_name: 'host1', service: 'compute', zone: 'nova' }, { host_name: 'host2', service: 'compute', zone: 'az2' }])
    r = await get('/v2.1/os-hosts?zone=az2')
    assert.deepEqual(r.body.hosts.map((x: any) => x.host_name), ['host2'])
    assert.equal((await get('/v2.1/os-hosts?zone=')).body.hosts.length, 2)
    assert.deepEqual((await get('/v2.1/os-hosts?zone=xxx')).body.hosts, [])
    assert.equal((await get('/v2.1/os-hosts', { token: member.token })).status, 403)
    assert.equal((await get('/v2.1/os-hosts', { version: '2.43' })).status, 404)
  })

  it("shows a host's resources: total, used now, used max and per project", async () => {
    await insertServer(h, { project_id: member.projectId, user_id: member.userId, host: 'host1' })
    const r = await get('/v2.1/os-hosts/host1')
    assert.equal(r.status, 200)
    const byProject = Object.fromEntries(r.body.host.map((x: any) => [x.resource.project, x.resource]))
    assert.deepEqual(byProject['(total)'], { host: 'host1', project: '(total)', cpu: 4, memory_mb: 8192, disk_gb: 100 })
    assert.deepEqual(byProject['(used_max)'], { host: 'host1', project: '(used_max)', cpu: 1, memory_mb: 512, disk_gb: 1 })
    assert.equal(byProject[member.projectId].memory_mb, 512)
    assert.ok(byProject['(used_now)'])
    assert.equal((await get('/v2.1/os-hosts/nope')).status, 404)
  })

  it('update: enables or disables the compute service; bad bodies 400; maintenance mode and power actions 501', async () => {
    const put = (host: string, body: unknown, token = h.identity.adminToken) => h.json('PUT', `/v2.1/os-hosts/${host}`, { token, body })
    let r = await put('host2', { status: 'disable' })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, { host: 'host2', status: 'disabled' })
    const svc = await h.compute.ctx.db.selectFrom('services').selectAll().where('host', '=', 'host2').executeTakeFirstOrThrow()
    assert.equal(Number(svc.disabled), 1)
    assert.equal((await put('host2', { status: 'Enable' })).body.status, 'enabled')
    assert.equal((await put('host2', {})).status, 400)
    assert.equal((await put('host2', { status: 'invalid' })).status, 400)
    assert.equal((await put('host2', { status: 'enable', maintenance_mode: 'invalid' })).status, 400)
    assert.equal((await put('nope', { status: 'enable' })).status, 404)
    assert.equal((await put('host2', { status: 'enable' }, member.token)).status, 403)
    assert.equal((await put('host2', { maintenance_mode: 'enable' })).status, 501)
    assert.equal((await get('/v2.1/os-hosts/host1/reboot')).status, 501)
    assert.equal((await get('/v2.1/os-hosts/nope/startup')).status, 404)
    assert.equal((await get('/v2.1/os-hosts/host1/shutdown', { token: member.token })).status, 403)
  })
})
