import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { insertTestInstance, testFlavor, testHostBody } from './control-testing.ts'
import { claim, resourcesOf } from './placement.ts'
import { type ComputeHarness, computeHarness } from './testing.ts'

// The report handler against os-resetState: an admin's reset writes vm_state itself and moves
// the generation; the agent's report of that generation must not undo it (Tempest's
// test_list_servers_filter_by_error_status lists the server by status ERROR right after).

const P = '/cumulo-agent/v1'

describe('agent reports after os-resetState', () => {
  let h: ComputeHarness
  before(async () => {
    h = await computeHarness()
    await h.compute.conductor.stop()
    const r = await h.json('PUT', `${P}/hosts/rh1`, { body: testHostBody() })
    assert.equal(r.status, 200, JSON.stringify(r.body))
  })
  after(async () => { await h.close() })
  const db = () => h.compute.ctx.db
  const get = (uuid: string) => db().selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()
  const report = (uuid: string, body: unknown) => h.json('POST', `${P}/instances/${uuid}/report`, { body })
  const act = (uuid: string, body: unknown) => h.json('POST', `/v2.1/servers/${uuid}/action`, { body })

  /** A server placed on rh1 and reported active (generation 1 applied). */
  async function active() {
    const row = await insertTestInstance(h.compute.ctx, { host: 'rh1', node: 'rh1', task_state: 'spawning' })
    const node = await db().selectFrom('compute_nodes').select('uuid').where('host', '=', 'rh1').executeTakeFirstOrThrow()
    assert.equal(await claim(db(), row, node.uuid, resourcesOf(testFlavor())), 'claimed')
    const r = await report(row.uuid, { host: 'rh1', gen: 1, power_state: 'running', launched: true })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal((await get(row.uuid)).vm_state, 'active')
    return row.uuid
  }

  test('a server reset to ERROR stays in ERROR when the agent reports the new generation', async () => {
    const uuid = await active()
    let r = await act(uuid, { 'os-resetState': { state: 'error' } })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    let row = await get(uuid)
    const gen = Number(row.desired_gen)
    assert.equal(row.vm_state, 'error')
    // The agent sees the new generation; the guest still runs: it reports that.
    r = await report(uuid, { host: 'rh1', gen, power_state: 'running' })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.vm_state, 'error')
    row = await get(uuid)
    assert.equal(row.vm_state, 'error')
    assert.equal(row.task_state, null)
    assert.equal(Number(row.applied_gen), gen, 'the generation is applied all the same')
    // A repeated report changes nothing either.
    await report(uuid, { host: 'rh1', gen, power_state: 'running' })
    assert.equal((await get(uuid)).vm_state, 'error')
    // The list filtered by status ERROR shows it.
    const list = await h.json('GET', '/v2.1/servers?status=ERROR&all_tenants=1')
    assert.equal(list.status, 200)
    assert.ok(list.body.servers.some((s: { id: string }) => s.id === uuid))

    // An action changes the desired state: its report moves vm_state again.
    r = await act(uuid, { 'os-stop': null })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    row = await get(uuid)
    assert.equal(row.task_state, 'powering-off')
    r = await report(uuid, { host: 'rh1', gen: Number(row.desired_gen), power_state: 'shutdown' })
    assert.equal(r.status, 200)
    row = await get(uuid)
    assert.equal(row.vm_state, 'stopped')
    assert.equal(row.task_state, null)
  })

  test('reset to ERROR during a task, then to ACTIVE: each reset is kept', async () => {
    const uuid = await active()
    let r = await act(uuid, { 'os-stop': null })
    assert.equal(r.status, 202)
    r = await act(uuid, { 'os-resetState': { state: 'error' } })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    let row = await get(uuid)
    // A late report of the stop's generation (older than the reset's) changes no state.
    await report(uuid, { host: 'rh1', gen: Number(row.desired_gen) - 1, power_state: 'shutdown' })
    assert.equal((await get(uuid)).vm_state, 'error')
    await report(uuid, { host: 'rh1', gen: Number(row.desired_gen), power_state: 'shutdown' })
    row = await get(uuid)
    assert.equal(row.vm_state, 'error')
    assert.equal(row.power_state, 4)

    r = await act(uuid, { 'os-resetState': { state: 'active' } })
    assert.equal(r.status, 202)
    row = await get(uuid)
    await report(uuid, { host: 'rh1', gen: Number(row.desired_gen), power_state: 'shutdown' })
    row = await get(uuid)
    assert.equal(row.vm_state, 'active', 'the admin said active: the report does not override it')
    assert.equal(Number(row.applied_gen), Number(row.desired_gen))
  })

  test('a fault on a reset server still puts it in ERROR; a hard reboot from ERROR comes back ACTIVE', async () => {
    const uuid = await active()
    await act(uuid, { 'os-resetState': { state: 'error' } })
    let row = await get(uuid)
    let r = await act(uuid, { reboot: { type: 'HARD' } })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    row = await get(uuid)
    const op = JSON.parse(row.pending_op!) as { id: string }
    r = await report(uuid, { host: 'rh1', gen: Number(row.desired_gen), power_state: 'running', op: { id: op.id, result: 'ok' } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    row = await get(uuid)
    assert.equal(row.vm_state, 'active')
    assert.equal(row.task_state, null)
  })
  test('a confirmed resize ends VERIFY_RESIZE: the confirm op report brings the server back to ACTIVE', async () => {
    const uuid = await active()
    const f = await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'rs-bigger', vcpus: 2, ram: 1024, disk: 2 } } })
    assert.equal(f.status, 200, JSON.stringify(f.body))
    let r = await act(uuid, { resize: { flavorRef: f.body.flavor.id } })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    let row = await get(uuid)
    const op = JSON.parse(row.pending_op!)
    r = await report(uuid, { host: 'rh1', gen: Number(row.desired_gen), power_state: 'running', op: { id: op.id, result: 'ok' } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal((await get(uuid)).vm_state, 'resized')
    r = await act(uuid, { confirmResize: null })
    assert.equal(r.status, 204, JSON.stringify(r.body))
    row = await get(uuid)
    const confirm = JSON.parse(row.pending_op!)
    assert.equal(confirm.kind, 'confirm_resize')
    r = await report(uuid, { host: 'rh1', gen: Number(row.desired_gen), power_state: 'running', op: { id: confirm.id, result: 'ok' } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    row = await get(uuid)
    assert.equal(row.vm_state, 'active')
    assert.equal(row.task_state, null)
    assert.equal(row.pending_op, null)
  })
})
