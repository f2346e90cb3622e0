import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { claim } from '../placement.ts'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { insertServer, registerHost } from './actions-testing.ts'

describe('availability zones, hypervisors, services', () => {
  let h: ComputeHarness
  let node: string
  let member: { projectId: string; userId: string; token: string }
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
    node = await registerHost(h, 'host1')
    await registerHost(h, 'host2', { zone: 'az2' })
    const s = await insertServer(h, { project_id: member.projectId, user_id: member.userId })
    assert.equal(await claim(h.compute.ctx.db, { uuid: s.uuid, project_id: member.projectId, user_id: member.userId }, node,
      { VCPU: 2, MEMORY_MB: 1024, DISK_GB: 10 }), 'claimed')
  })
  after(async () => { await h.close() })

  it('lists availability zones; detail is for admins', async () => {
    let r = await h.json('GET', '/v2.1/os-availability-zone', { token: member.token })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.availabilityZoneInfo, [
      { zoneName: 'az2', zoneState: { available: true }, hosts: null },
      { zoneName: 'nova', zoneState: { available: true }, hosts: null },
    ])
    r = await h.json('GET', '/v2.1/os-availability-zone/detail', { token: member.token })
    assert.equal(r.status, 403)
    r = await h.json('GET', '/v2.1/os-availability-zone/detail')
    const nova = r.body.availabilityZoneInfo.find((z: any) => z.zoneName === 'nova')
    assert.equal(nova.hosts.host1['nova-compute'].available, true)
    assert.equal(nova.hosts.host1['nova-compute'].active, true)
  })

  it('shows hypervisors with usage from placement, per microversion', async () => {
    let r = await h.json('GET', '/v2.1/os-hypervisors', { token: member.token })
    assert.equal(r.status, 403)
    r = await h.json('GET', '/v2.1/os-hypervisors')
    assert.equal(r.body.hypervisors.length, 2)
    assert.deepEqual(Object.keys(r.body.hypervisors[0]).sort(), ['hypervisor_hostname', 'id', 'state', 'status'])
    assert.equal(typeof r.body.hypervisors[0].id, 'number')
    r = await h.json('GET', '/v2.1/os-hypervisors/detail', { version: '2.53' })
    const hv = r.body.hypervisors.find((x: any) => x.id === node)
    assert.equal(hv.vcpus, 4); assert.equal(hv.vcpus_used, 2)
    assert.equal(hv.memory_mb_used, 1024); assert.equal(hv.free_ram_mb, 8192 - 1024)
    assert.equal(hv.local_gb_used, 10); assert.equal(hv.running_vms, 1)
    assert.equal(hv.state, 'up'); assert.equal(hv.status, 'enabled')
    assert.equal(hv.hypervisor_type, 'QEMU')
    assert.deepEqual(hv.cpu_info, {})
    assert.equal(hv.service.host, 'host1')
    r = await h.json('GET', `/v2.1/os-hypervisors/${node}?with_servers=true`, { version: '2.53' })
    assert.equal(r.body.hypervisor.servers.length, 1)
    r = await h.json('GET', '/v2.1/os-hypervisors/42', { version: '2.53' })
    assert.equal(r.status, 400)
    r = await h.json('GET', '/v2.1/os-hypervisors/4242')
    assert.equal(r.status, 404)
    r = await h.json('GET', '/v2.1/os-hypervisors/statistics')
    assert.equal(r.body.hypervisor_statistics.count, 2)
    assert.equal(r.body.hypervisor_statistics.vcpus, 8)
    assert.equal(r.body.hypervisor_statistics.running_vms, 1)
    r = await h.json('GET', '/v2.1/os-hypervisors/host2/search')
    assert.equal(r.body.hypervisors.length, 1)
    r = await h.json('GET', '/v2.1/os-hypervisors/nothing/search')
    assert.equal(r.status, 404)
    r = await h.json('GET', '/v2.1/os-hypervisors?hypervisor_hostname_pattern=host1&with_servers=1', { version: '2.53' })
    assert.equal(r.body.hypervisors.length, 1)
    assert.equal(r.body.hypervisors[0].servers.length, 1)
    r = await h.json('GET', '/v2.1/os-hypervisors?limit=1', { version: '2.33' })
    assert.equal(r.body.hypervisors.length, 1)
    assert.ok(r.body.hypervisors_links[0].href.includes('marker='))
  })

  it('lists, updates and deletes services', async () => {
    let r = await h.json('GET', '/v2.1/os-services?binary=nova-compute&host=host2', { version: '2.11' })
    assert.equal(r.status, 200)
    assert.equal(r.body.services.length, 1)
    const s = r.body.services[0]
    assert.deepEqual(Object.keys(s).sort(), ['binary', 'disabled_reason', 'forced_down', 'host', 'id', 'state', 'status', 'updated_at', 'zone'])
    assert.equal(s.zone, 'az2'); assert.equal(s.state, 'up'); assert.equal(s.status, 'enabled')
    r = await h.json('PUT', '/v2.1/os-services/disable-log-reason', { body: { host: 'host2', binary: 'nova-compute', disabled_reason: 'test' } })
    assert.deepEqual(r.body, { service: { host: 'host2', binary: 'nova-compute', status: 'disabled', disabled_reason: 'test' } })
    r = await h.json('GET', '/v2.1/os-availability-zone', { token: member.token })
    assert.deepEqual(r.body.availabilityZoneInfo.find((z: any) => z.zoneName === 'az2').zoneState, { available: false })
    r = await h.json('GET', '/v2.1/os-services?host=host2', { version: '2.53' })
    const uuid = r.body.services[0].id
    r = await h.json('PUT', `/v2.1/os-services/${uuid}`, { version: '2.53', body: { status: 'enabled' } })
    assert.equal(r.status, 200)
    assert.equal(r.body.service.status, 'enabled'); assert.equal(r.body.service.disabled_reason, null)
    r = await h.json('PUT', `/v2.1/os-services/${uuid}`, { version: '2.53', body: { forced_down: true } })
    assert.equal(r.body.service.state, 'down'); assert.equal(r.body.service.forced_down, true)
    r = await h.json('PUT', `/v2.1/os-services/${uuid}`, { version: '2.53', body: {} })
    assert.equal(r.status, 400)
    r = await h.json('PUT', `/v2.1/os-services/${uuid}`, { version: '2.53', body: { status: 'enabled', disabled_reason: 'x' } })
    assert.equal(r.status, 400)
    r = await h.json('PUT', '/v2.1/os-services/not-a-uuid', { version: '2.53', body: { status: 'enabled' } })
    assert.equal(r.status, 400)
    // host1 hosts a server: its service can't go; host2 can.
    r = await h.json('GET', '/v2.1/os-services?host=host1', { version: '2.53' })
    r = await h.json('DELETE', `/v2.1/os-services/${r.body.services[0].id}`, { version: '2.53' })
    assert.equal(r.status, 409)
    r = await h.json('DELETE', `/v2.1/os-services/${uuid}`, { version: '2.53' })
    assert.equal(r.status, 204)
    r = await h.json('GET', '/v2.1/os-hypervisors')
    assert.equal(r.body.hypervisors.length, 1)
    r = await h.json('GET', '/v2.1/os-services', { token: member.token })
    assert.equal(r.status, 403)
  })
})
