import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { macOf } from '../agent-hosts.ts'
import { Conductor } from '../conductor.ts'
import { insertTestInstance, testFlavor, testHostBody } from '../control-testing.ts'
import { bumpHost, notify } from '../instances.ts'
import { allocationsOf, claim, resourcesOf } from '../placement.ts'
import { type ComputeHarness, computeHarness } from '../testing.ts'

const P = '/cumulo-agent/v1'

describe('agent API', () => {
  let h: ComputeHarness
  let member: { token: string }
  let service: { token: string }
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
    service = await h.projectUser('service')
    // Tests place servers themselves (or run a conductor pass when they mean to).
    await h.compute.conductor.stop()
  })
  after(async () => { await h.close() })
  const db = () => h.compute.ctx.db
  const c = () => h.compute.ctx

  /** A server already placed on `host` (as the conductor leaves it), with its allocation. */
  async function placed(host: string, o: Parameters<typeof insertTestInstance>[1] = {}) {
    const row = await insertTestInstance(c(), { host, node: host, task_state: 'spawning', ...o })
    const node = await db().selectFrom('compute_nodes').select('uuid').where('host', '=', host).executeTakeFirstOrThrow()
    assert.equal(await claim(db(), row, node.uuid, resourcesOf(testFlavor())), 'claimed')
    return row
  }
  const report = (uuid: string, body: unknown, token?: string) =>
    h.json('POST', `${P}/instances/${uuid}/report`, { body, ...(token ? { token } : {}) })
  const get = (uuid: string) => db().selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()

  test('register creates the service, node and provider; a heartbeat keeps them', async () => {
    let r = await h.json('PUT', `${P}/hosts/h1`, { body: testHostBody(), token: service.token })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.revision, 0)
    const uuid = r.body.compute_node.uuid
    assert.match(uuid, /^[0-9a-f-]{36}$/)
    const svc = await db().selectFrom('services').selectAll().where('host', '=', 'h1').executeTakeFirstOrThrow()
    assert.equal(svc.binary, 'nova-compute')
    assert.equal(svc.zone, 'nova')
    assert.ok(svc.last_seen_at)
    const rp = await db().selectFrom('resource_providers').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()
    assert.equal(rp.name, 'h1')
    const inv = Object.fromEntries((await db().selectFrom('inventories').selectAll().where('rp_uuid', '=', uuid).execute())
      .map((i) => [i.resource_class, i]))
    assert.equal(Number(inv.VCPU!.allocation_ratio), 4)
    assert.equal(Number(inv.VCPU!.total), 4)
    assert.equal(Number(inv.MEMORY_MB!.reserved), 512)
    assert.equal(Number(inv.DISK_GB!.total), 100)
    // Heartbeat: same node, no generation bump; a new zone is taken.
    r = await h.json('PUT', `${P}/hosts/h1`, { body: testHostBody({ zone: 'az1' }) })
    assert.equal(r.body.compute_node.uuid, uuid)
    const rp2 = await db().selectFrom('resource_providers').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()
    assert.equal(rp2.generation, rp.generation)
    assert.equal((await db().selectFrom('services').select('zone').where('host', '=', 'h1').executeTakeFirstOrThrow()).zone, 'az1')
    // A small host reserves no memory; a resize of the host moves the generation.
    r = await h.json('PUT', `${P}/hosts/h1`, { body: testHostBody({ memory_mb: 2048, zone: 'nova' }) })
    const mem = await db().selectFrom('inventories').selectAll().where('rp_uuid', '=', uuid).where('resource_class', '=', 'MEMORY_MB').executeTakeFirstOrThrow()
    assert.equal(Number(mem.reserved), 0)
    const rp3 = await db().selectFrom('resource_providers').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()
    assert.equal(rp3.generation, rp.generation + 1)
    await h.json('PUT', `${P}/hosts/h1`, { body: testHostBody() })
  })

  test('403 for a member, 401 without a token, 400 for bad bodies and names', async () => {
    let r = await h.json('PUT', `${P}/hosts/h9`, { body: testHostBody(), token: member.token })
    assert.equal(r.status, 403)
    r = await h.json('GET', `${P}/hosts/h1/instances`, { token: member.token })
    assert.equal(r.status, 403)
    r = await report('x', { host: 'h1', gen: 1, power_state: 'running' }, member.token)
    assert.equal(r.status, 403)
    r = await h.json('PUT', `${P}/hosts/h9`, { body: testHostBody(), token: null })
    assert.equal(r.status, 401)
    for (const body of [{ ...testHostBody(), vcpus: 0 }, { ...testHostBody(), extra: 1 }, { hypervisor_type: 'QEMU' },
      { ...testHostBody(), memory_mb: '8192' }, { ...testHostBody(), zone: 'a:b' }]) {
      r = await h.json('PUT', `${P}/hosts/h9`, { body })
      assert.equal(r.status, 400, JSON.stringify(body))
      assert.match(r.body.badRequest.message, /Invalid input/)
    }
    r = await h.json('PUT', `${P}/hosts/bad%20name`, { body: testHostBody() })
    assert.equal(r.status, 400)
    assert.equal(await db().selectFrom('services').select('host').where('host', '=', 'h9').executeTakeFirst(), undefined)
    for (const q of ['since=abc', 'since=-1', 'wait=x', 'wait=-2', 'foo=1']) {
      r = await h.json('GET', `${P}/hosts/h1/instances?${q}`)
      assert.equal(r.status, 400, q)
    }
    for (const body of [{ host: 'h1', gen: 1 }, { host: 'h1', gen: 1, power_state: 'flying' }, { host: 'h1', gen: -1, power_state: 'running' },
      { host: 'h1', gen: 1, power_state: 'running', deleted: false }, { host: 'h1', gen: 1, power_state: 'running', op: { id: 'x', result: 'maybe' } }]) {
      r = await report('00000000-0000-0000-0000-000000000000', body)
      assert.equal(r.status, 400, JSON.stringify(body))
    }
    r = await report('00000000-0000-0000-0000-000000000000', { host: 'h1', gen: 1, power_state: 'running' })
    assert.equal(r.status, 404)
  })

  test('watch: at once when behind, waits for a change otherwise, lists the host\'s servers', async () => {
    const a = await placed('h1', { requested_networks: '"auto"', system_metadata: JSON.stringify({
      image_disk_format: 'qcow2', image_container_format: 'bare', image_checksum: 'abc', image_size: '123' }) })
    await db().insertInto('instance_metadata').values({ uuid: a.uuid, key: 'k', value: 'v' }).execute()
    const b = await placed('h1', { requested_networks: '"none"' })
    await bumpHost(db(), 'h1')
    let r = await h.json('GET', `${P}/hosts/h1/instances?since=0&wait=10`, { token: service.token })
    assert.equal(r.status, 200)
    const rev = r.body.revision
    assert.ok(rev >= 1)
    const ia = r.body.instances.find((i: any) => i.uuid === a.uuid)
    const ib = r.body.instances.find((i: any) => i.uuid === b.uuid)
    assert.deepEqual(ia.image, { id: 'img-1', disk_format: 'qcow2', container_format: 'bare', checksum: 'abc', size: 123 })
    assert.deepEqual(ib.image, { id: 'img-1', disk_format: null, container_format: null, checksum: null, size: null })
    assert.deepEqual(ia.nics, [{ mac: macOf(a.uuid), mode: 'user' }])
    assert.match(ia.nics[0].mac, /^fa:16:3e(:[0-9a-f]{2}){3}$/)
    assert.deepEqual(ib.nics, [])
    assert.deepEqual(ia.metadata, { k: 'v' })
    assert.equal(ia.flavor.vcpus, 1)
    assert.equal(ia.desired_power, 'running')
    assert.equal(ia.desired_gen, 1)
    assert.equal(ia.pending_op, null)
    assert.equal(ia.availability_zone, 'nova')
    for (const k of ['name', 'hostname', 'project_id', 'user_id', 'applied_gen', 'vm_state', 'task_state', 'image_ref', 'key_name',
      'key_data', 'user_data', 'launch_index', 'reservation_id', 'created_at']) assert.ok(k in ia, k)

    // Up to date: times out after `wait`.
    let t0 = Date.now()
    r = await h.json('GET', `${P}/hosts/h1/instances?since=${rev}&wait=0.3`)
    assert.equal(r.status, 200)
    assert.ok(Date.now() - t0 >= 250, 'waited')
    assert.equal(r.body.revision, rev)
    // Up to date: a change wakes it long before `wait`.
    t0 = Date.now()
    const pending = h.json('GET', `${P}/hosts/h1/instances?since=${rev}&wait=20`)
    setTimeout(async () => { await bumpHost(db(), 'h1'); notify(c(), 'h1') }, 100)
    r = await pending
    assert.ok(Date.now() - t0 < 5000)
    assert.equal(r.body.revision, rev + 1)
    // Another host's servers are not listed.
    r = await h.json('GET', `${P}/hosts/nohost/instances`)
    assert.deepEqual(r.body, { revision: 0, instances: [] })
  })

  test('report: building → active, stop → stopped, stale generations, wrong host', async () => {
    const s = await placed('h1')
    let r = await report(s.uuid, { host: 'h2', gen: 1, power_state: 'running' })
    assert.equal(r.status, 409)
    r = await report(s.uuid, { host: 'h1', gen: 2, power_state: 'running' })
    assert.equal(r.status, 409)
    const rev0 = (await h.json('GET', `${P}/hosts/h1/instances`)).body.revision
    r = await report(s.uuid, { host: 'h1', gen: 1, power_state: 'running', launched: true,
      addresses: { user: [{ version: 4, addr: '169.254.0.5' }] } }, service.token)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    let row = await get(s.uuid)
    assert.equal(row.vm_state, 'active')
    assert.equal(row.task_state, null)
    assert.equal(row.power_state, 1)
    assert.equal(row.applied_gen, 1)
    assert.ok(row.launched_at)
    assert.deepEqual(JSON.parse(row.addresses).user[0].addr, '169.254.0.5')
    assert.ok((await h.json('GET', `${P}/hosts/h1/instances`)).body.revision > rev0)
    const events = await db().selectFrom('instance_action_events').innerJoin('instance_actions', 'instance_actions.id', 'instance_action_events.action_id')
      .select(['event', 'result']).where('instance_actions.uuid', '=', s.uuid).execute()
    assert.deepEqual(events, [{ event: 'compute__do_build_and_run_instance', result: 'Success' }])
    // The same report again changes nothing and does not move the revision (no reconcile loop).
    const rev1 = (await h.json('GET', `${P}/hosts/h1/instances`)).body.revision
    await report(s.uuid, { host: 'h1', gen: 1, power_state: 'running' })
    assert.equal((await h.json('GET', `${P}/hosts/h1/instances`)).body.revision, rev1)

    // Stop: the API bumps desired state; an old-generation report only updates the power state.
    await db().updateTable('instances').set({ desired_power: 'shutdown', desired_gen: 2, task_state: 'powering-off' }).where('uuid', '=', s.uuid).execute()
    r = await report(s.uuid, { host: 'h1', gen: 1, power_state: 'shutdown' })
    row = await get(s.uuid)
    assert.equal(row.vm_state, 'active')
    assert.equal(row.task_state, 'powering-off')
    assert.equal(row.power_state, 4)
    r = await report(s.uuid, { host: 'h1', gen: 2, power_state: 'shutdown' })
    row = await get(s.uuid)
    assert.equal(row.vm_state, 'stopped')
    assert.equal(row.task_state, null)
    assert.equal(row.applied_gen, 2)
  })

  test('report: op results clear the pending op and record the event', async () => {
    const s = await placed('h1', { vm_state: 'active', task_state: 'rebooting', desired_gen: 2, applied_gen: 1,
      pending_op: JSON.stringify({ id: 'op-1', kind: 'reboot', type: 'SOFT' }) })
    const now = new Date().toISOString()
    await db().insertInto('instance_actions').values({ uuid: s.uuid, action: 'reboot', request_id: 'req-x', user_id: 'u1', project_id: 'p1',
      start_time: now, finish_time: null, message: null, updated_at: now } as never).execute()
    // A result for another op is ignored.
    await report(s.uuid, { host: 'h1', gen: 2, power_state: 'running', op: { id: 'op-0', result: 'ok' } })
    assert.equal((await get(s.uuid)).pending_op !== null, true)
    await report(s.uuid, { host: 'h1', gen: 2, power_state: 'running', op: { id: 'op-1', result: 'ok' } })
    const row = await get(s.uuid)
    assert.equal(row.pending_op, null)
    assert.equal(row.task_state, null)
    assert.equal(row.vm_state, 'active')
    const ev = await db().selectFrom('instance_action_events').innerJoin('instance_actions', 'instance_actions.id', 'instance_action_events.action_id')
      .select(['event', 'result']).where('instance_actions.uuid', '=', s.uuid).where('action', '=', 'reboot').execute()
    assert.deepEqual(ev, [{ event: 'compute_reboot_instance', result: 'Success' }])
  })

  test('report: deleted → row deleted, allocation and group membership released', async () => {
    const s = await placed('h1', { vm_state: 'active', task_state: 'deleting', desired_power: 'deleted', desired_gen: 2, applied_gen: 1 })
    const now = new Date().toISOString()
    await db().insertInto('server_groups').values({ uuid: 'g1', name: 'g', project_id: 'p1', user_id: 'u1', policy: 'anti-affinity', rules: '{}', created_at: now }).execute()
    await db().insertInto('server_group_members').values({ group_uuid: 'g1', instance_uuid: s.uuid }).execute()
    assert.equal(Object.keys(await allocationsOf(db(), s.uuid)).length, 1)
    const r = await report(s.uuid, { host: 'h1', gen: 2, power_state: 'nostate', deleted: true })
    assert.equal(r.status, 200)
    assert.equal(r.body.deleted, true)
    const row = await get(s.uuid)
    assert.equal(row.deleted, 1)
    assert.equal(row.vm_state, 'deleted')
    assert.equal(row.task_state, null)
    assert.ok(row.deleted_at && row.terminated_at)
    assert.deepEqual(await allocationsOf(db(), s.uuid), {})
    assert.equal((await db().selectFrom('server_group_members').selectAll().where('instance_uuid', '=', s.uuid).execute()).length, 0)
    const list = (await h.json('GET', `${P}/hosts/h1/instances`)).body.instances
    assert.equal(list.some((i: any) => i.uuid === s.uuid), false)
    // Repeated: fine. Anything else on a deleted server: 404.
    assert.equal((await report(s.uuid, { host: 'h1', gen: 2, power_state: 'nostate', deleted: true })).status, 200)
    assert.equal((await report(s.uuid, { host: 'h1', gen: 2, power_state: 'running' })).status, 404)
  })

  test('report: a build fault reschedules (retry_hosts), the third goes to ERROR', async () => {
    await h.json('PUT', `${P}/hosts/h2`, { body: testHostBody() })
    await h.json('PUT', `${P}/hosts/h3`, { body: testHostBody() })
    const s = await placed('h1')
    const fault = { message: 'qemu died', details: 'trace', reschedule: true }
    let r = await report(s.uuid, { host: 'h1', gen: 1, power_state: 'nostate', fault })
    assert.equal(r.status, 200)
    let row = await get(s.uuid)
    assert.equal(row.host, null)
    assert.equal(row.node, null)
    assert.equal(row.vm_state, 'building')
    assert.equal(row.task_state, 'scheduling')
    assert.deepEqual(JSON.parse(row.system_metadata).retry_hosts, ['h1'])
    assert.deepEqual(await allocationsOf(db(), s.uuid), {})
    // The conductor places it on another host; it fails there too; then on the last one.
    const k = new Conductor(c())
    assert.equal(await k.runOnce(), 1)
    row = await get(s.uuid)
    const second = row.host!
    assert.ok(second === 'h2' || second === 'h3', String(second))
    assert.equal(row.task_state, 'spawning')
    await report(s.uuid, { host: second, gen: 1, power_state: 'nostate', fault })
    row = await get(s.uuid)
    assert.deepEqual(JSON.parse(row.system_metadata).retry_hosts, ['h1', second])
    assert.equal(row.task_state, 'scheduling')
    await k.runOnce()
    const third = (await get(s.uuid)).host!
    assert.equal(third, second === 'h2' ? 'h3' : 'h2')
    r = await report(s.uuid, { host: third, gen: 1, power_state: 'nostate', fault })
    row = await get(s.uuid)
    assert.equal(row.vm_state, 'error')
    assert.equal(row.task_state, null)
    assert.equal(row.host, null)
    const f = await db().selectFrom('instance_faults').selectAll().where('uuid', '=', s.uuid).orderBy('id', 'desc').executeTakeFirstOrThrow()
    assert.match(f.message, /^Exceeded maximum number of retries/)
    assert.equal(f.code, 500)
    const ev = await db().selectFrom('instance_action_events').innerJoin('instance_actions', 'instance_actions.id', 'instance_action_events.action_id')
      .select(['event', 'result']).where('instance_actions.uuid', '=', s.uuid).execute()
    assert.equal(ev.filter((e) => e.event === 'compute__do_build_and_run_instance' && e.result === 'Error').length, 3)
  })

  test('report: a fault without reschedule puts a running server in ERROR', async () => {
    const s = await placed('h1', { vm_state: 'active', task_state: null, applied_gen: 1 })
    await report(s.uuid, { host: 'h1', gen: 1, power_state: 'crashed', fault: { message: 'guest crashed' } })
    const row = await get(s.uuid)
    assert.equal(row.vm_state, 'error')
    assert.equal(row.host, 'h1')
    assert.equal(row.power_state, 6)
  })
})
