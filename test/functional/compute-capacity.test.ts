// Scheduling under concurrency through the public API: two hosts that fit exactly 50 servers of a
// flavor, 51 `POST /servers` at once. Exactly 50 are placed, no host is over its capacity as
// placement counts it, and the 51st goes to ERROR with Nova's "No valid host" fault. Then bad
// input and wrong states are refused with Nova's errors and change nothing.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type ComputeHarness, computeHarness } from '../../src/compute/testing.ts'

describe('compute capacity and bad input through the API', () => {
  let h: ComputeHarness
  let image: string
  const V = '2.37'

  before(async () => {
    h = await computeHarness()
    image = await h.makeImage({ name: 'cap' })
    // Two hosts: 6 and 6.5 vCPUs' worth at ratio 4.0 → 24 + 26 = 50 one-vCPU servers; RAM and disk to spare.
    for (const [host, vcpus] of [['cap-a', 6], ['cap-b', 7]] as const) {
      const r = await h.json('PUT', `/cumulo-agent/v1/hosts/${host}`, { body: {
        hypervisor_type: 'fake', hypervisor_version: 1, vcpus, memory_mb: 1_000_000, local_gb: 100_000, host_ip: '127.0.0.1', agent_url: '',
      } })
      assert.equal(r.status, 200, JSON.stringify(r.body))
    }
    // cap-b's VCPU inventory: 26 at ratio 1 (7 × 4 would be 28). Placement's own record, as an operator would set it.
    const db = h.compute.ctx.db
    const rp = await db.selectFrom('resource_providers').select('uuid').where('name', '=', 'cap-b').executeTakeFirstOrThrow()
    await db.updateTable('inventories').set({ total: 26, allocation_ratio: 1 }).where('rp_uuid', '=', rp.uuid)
      .where('resource_class', '=', 'VCPU').execute()
    const flavor = await h.json('POST', '/v2.1/flavors', { body: { flavor: { id: 'cap1', name: 'cap.one', vcpus: 1, ram: 64, disk: 1 } } })
    assert.equal(flavor.status, 200, JSON.stringify(flavor.body))
    const quota = await h.json('PUT', `/v2.1/os-quota-sets/${h.identity.adminProjectId}`,
      { body: { quota_set: { instances: -1, cores: -1, ram: -1 } } })
    assert.equal(quota.status, 200, JSON.stringify(quota.body))
  })
  after(async () => { await h?.close() })

  test('51 concurrent creates on room for 50: 50 placed, none over capacity, the 51st in ERROR "No valid host"', async () => {
    const answers = await Promise.all(Array.from({ length: 51 }, (_, i) => h.json('POST', '/v2.1/servers', { version: V,
      body: { server: { name: `cap-${i}`, imageRef: image, flavorRef: 'cap1', networks: 'none' } } })))
    for (const a of answers) assert.equal(a.status, 202, JSON.stringify(a.body))
    const ids = answers.map((a) => a.body.server.id as string)
    // The conductor places them (woken by each create, and every 2 s).
    const deadline = Date.now() + 60_000
    let servers: any[] = []
    for (;;) {
      const r = await h.json('GET', '/v2.1/servers/detail?limit=1000', { version: V })
      servers = r.body.servers.filter((s: any) => ids.includes(s.id))
      const waiting = servers.filter((s: any) => s.status === 'BUILD' && !s['OS-EXT-SRV-ATTR:host'])
      if (servers.length === 51 && waiting.length === 0) break
      assert.ok(Date.now() < deadline, `still unscheduled: ${waiting.length}`)
      await new Promise((r) => setTimeout(r, 200))
    }
    const placed = servers.filter((s) => s['OS-EXT-SRV-ATTR:host'])
    const failed = servers.filter((s) => s.status === 'ERROR')
    assert.equal(placed.length, 50)
    assert.equal(failed.length, 1)
    assert.match(failed[0].fault.message, /No valid host was found/)
    assert.equal(failed[0].fault.code, 500)
    const perHost = (host: string) => placed.filter((s) => s['OS-EXT-SRV-ATTR:host'] === host).length
    assert.ok(perHost('cap-a') <= 24 && perHost('cap-b') <= 26, `cap-a ${perHost('cap-a')}, cap-b ${perHost('cap-b')}`)
    // Placement agrees: no provider holds more VCPU than its capacity.
    const hv = await h.json('GET', '/v2.1/os-hypervisors/detail', { version: '2.53' })
    const used = Object.fromEntries(hv.body.hypervisors.map((x: any) => [x.hypervisor_hostname, x.vcpus_used]))
    assert.equal(used['cap-a'] + used['cap-b'], 50)
  })

  test('bad input creates nothing: unknown flavor, image, network; malformed bodies', async () => {
    const count = async () => (await h.json('GET', '/v2.1/servers?limit=1000', { version: V })).body.servers.length
    const before = await count()
    const bad = [
      { server: { name: 'x', imageRef: image, flavorRef: 'no-such-flavor', networks: 'none' } },
      { server: { name: 'x', imageRef: '2b7c4a38-1d0e-4b7a-9f0a-0c4b7b7b7b7b', flavorRef: 'cap1', networks: 'none' } },
      { server: { name: 'x', imageRef: image, flavorRef: 'cap1', networks: [{ uuid: '2b7c4a38-1d0e-4b7a-9f0a-0c4b7b7b7b7c' }] } },
      { server: { name: 'x', imageRef: image, flavorRef: 'cap1', networks: 'none', min_count: 'lots' } },
      { server: { imageRef: image, flavorRef: 'cap1', networks: 'none' } },
      { server: { name: 'x', imageRef: image, flavorRef: 'cap1', networks: 'none', user_data: 'not base64!' } },
      { servers: {} },
    ]
    for (const body of bad) {
      const r = await h.json('POST', '/v2.1/servers', { version: V, body })
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`)
      assert.ok(r.body.badRequest?.message, JSON.stringify(r.body))
    }
    const garbage = await h.call('POST', '/v2.1/servers', { version: V, body: '{"server": ' })
    assert.equal(garbage.statusCode, 400)
    assert.equal(await count(), before)
  })

  test('over quota → 403 with Nova\'s message; an action in the wrong state → 409; nothing changes', async () => {
    const p = await h.projectUser('member')
    await h.json('PUT', `/v2.1/os-quota-sets/${p.projectId}`, { body: { quota_set: { instances: 1 } } })
    const first = await h.json('POST', '/v2.1/servers', { version: V, token: p.token,
      body: { server: { name: 'q1', imageRef: image, flavorRef: 'cap1', networks: 'none', min_count: 2 } } })
    assert.equal(first.status, 403, JSON.stringify(first.body))
    assert.match(first.body.forbidden.message, /Quota exceeded for instances/)
    const list = await h.json('GET', '/v2.1/servers', { version: V, token: p.token })
    assert.deepEqual(list.body.servers, [])
    // A server still building (no host yet in this harness: it has no agents) cannot be stopped:
    // Nova's check_instance_host answers 409 "Instance … is not ready".
    const one = await h.json('POST', '/v2.1/servers', { version: V, token: p.token,
      body: { server: { name: 'q1', imageRef: image, flavorRef: 'cap1', networks: 'none' } } })
    assert.equal(one.status, 202, JSON.stringify(one.body))
    const stop = await h.json('POST', `/v2.1/servers/${one.body.server.id}/action`, { version: V, token: p.token, body: { 'os-stop': null } })
    assert.equal(stop.status, 409, JSON.stringify(stop.body))
    assert.match(stop.body.conflictingRequest.message, /is not ready|Cannot 'stop' instance/)
  })
})
