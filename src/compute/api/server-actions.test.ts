import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { json } from '../instances.ts'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { SMALL, insertServer, registerHost, rowOf } from './actions-testing.ts'

describe('server actions', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  let other: { projectId: string; userId: string; token: string }
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
    other = await h.projectUser('member')
    await registerHost(h)
  })
  after(async () => { await h.close() })
  const act = (uuid: string, body: unknown, o: { token?: string; version?: string } = {}) =>
    h.json('POST', `/v2.1/servers/${uuid}/action`, { token: o.token ?? member.token, body, version: o.version })
  const mine = (o: Record<string, unknown> = {}) => insertServer(h, { project_id: member.projectId, user_id: member.userId, ...o })

  it('stop, start, pause, unpause, suspend, resume write desired state, task_state and an action', async () => {
    const cases: Array<[string, string, string, string]> = [
      ['os-stop', 'active', 'shutdown', 'powering-off'], ['os-start', 'stopped', 'running', 'powering-on'],
      ['pause', 'active', 'paused', 'pausing'], ['unpause', 'paused', 'running', 'unpausing'],
      ['suspend', 'active', 'suspended', 'suspending'], ['resume', 'suspended', 'running', 'resuming'],
    ]
    for (const [name, vm, power, task] of cases) {
      const s = await mine({ vm_state: vm })
      const rev = await h.compute.ctx.db.selectFrom('host_revisions').select('revision').where('host', '=', 'host1').executeTakeFirst()
      const r = await act(s.uuid, { [name]: null })
      assert.equal(r.status, 202, `${name}: ${JSON.stringify(r.body)}`)
      const row = await rowOf(h, s.uuid)
      assert.equal(row.desired_power, power)
      assert.equal(row.task_state, task)
      assert.equal(Number(row.desired_gen), 2)
      const rev2 = await h.compute.ctx.db.selectFrom('host_revisions').select('revision').where('host', '=', 'host1').executeTakeFirstOrThrow()
      assert.ok(Number(rev2.revision) > Number(rev?.revision ?? 0), 'host revision moves')
      const actions = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions`, { token: member.token })
      const nova = name.replace('os-', '')
      assert.equal(actions.body.instanceActions[0].action, nova)
      // A second action while one is under way: Nova's task_state 409.
      const again = await act(s.uuid, { [name]: null })
      assert.equal(again.status, 409)
      assert.ok(again.body.conflictingRequest.message.includes(`Cannot '${nova}' instance ${s.uuid} while it is in`), again.body.conflictingRequest.message)
    }
  })

  it('answers 409 with Nova messages for the wrong vm_state and for locked servers', async () => {
    const s = await mine({ vm_state: 'stopped' })
    let r = await act(s.uuid, { 'os-stop': null })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, `Cannot 'stop' instance ${s.uuid} while it is in vm_state stopped`)
    r = await act(s.uuid, { pause: null })
    assert.equal(r.body.conflictingRequest.message, `Cannot 'pause' instance ${s.uuid} while it is in vm_state stopped`)
    // Locked by the admin: the owner is refused, an admin is not; the owner may not unlock.
    r = await act(s.uuid, { lock: null }, { token: h.identity.adminToken })
    assert.equal(r.status, 202)
    r = await act(s.uuid, { 'os-start': null })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, `Instance ${s.uuid} is locked`)
    r = await act(s.uuid, { unlock: null })
    assert.equal(r.status, 403)
    r = await act(s.uuid, { 'os-start': null }, { token: h.identity.adminToken })
    assert.equal(r.status, 202)
    assert.equal((await rowOf(h, s.uuid)).task_state, 'powering-on')
    r = await act(s.uuid, { unlock: null }, { token: h.identity.adminToken })
    assert.equal(r.status, 202)
    assert.equal(Number((await rowOf(h, s.uuid)).locked), 0)
  })

  it('lock records the reason (2.73), by owner, with api_lock events', async () => {
    const s = await mine()
    let r = await act(s.uuid, { lock: { locked_reason: 'maintenance' } }, { version: '2.73' })
    assert.equal(r.status, 202)
    const row = await rowOf(h, s.uuid)
    assert.equal(Number(row.locked), 1)
    assert.equal(row.locked_by, 'owner')
    assert.equal(row.locked_reason, 'maintenance')
    r = await act(s.uuid, { lock: { locked_reason: 'x', bad: 1 } }, { version: '2.73' })
    assert.equal(r.status, 400)
    r = await act(s.uuid, { unlock: null })
    assert.equal(r.status, 202)
    const list = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions`, { token: member.token })
    assert.deepEqual(list.body.instanceActions.map((a: any) => a.action), ['unlock', 'lock'])
    const show = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions/${list.body.instanceActions[1].request_id}`)
    assert.equal(show.body.instanceAction.events[0].event, 'api_lock')
    assert.equal(show.body.instanceAction.events[0].result, 'Success')
  })

  it('reboot SOFT/HARD set the pending op; bad bodies are 400 and change nothing', async () => {
    const s = await mine()
    let r = await act(s.uuid, { reboot: { type: 'BOGUS' } })
    assert.equal(r.status, 400)
    r = await act(s.uuid, { reboot: {} })
    assert.equal(r.status, 400)
    assert.equal(Number((await rowOf(h, s.uuid)).desired_gen), 1)
    r = await act(s.uuid, { reboot: { type: 'SOFT' } })
    assert.equal(r.status, 202)
    let row = await rowOf(h, s.uuid)
    assert.equal(row.task_state, 'rebooting')
    const op = json<any>(row.pending_op, null)
    assert.equal(op.kind, 'reboot'); assert.equal(op.type, 'SOFT'); assert.ok(op.id)
    // A soft reboot over a running one is refused; a hard one may interrupt it.
    r = await act(s.uuid, { reboot: { type: 'SOFT' } })
    assert.equal(r.status, 409)
    r = await act(s.uuid, { reboot: { type: 'hard' } })
    assert.equal(r.status, 202)
    row = await rowOf(h, s.uuid)
    assert.equal(row.task_state, 'rebooting_hard')
    assert.equal(json<any>(row.pending_op, null).type, 'HARD')
    // Hard reboot of a stopped server starts it.
    const stopped = await mine({ vm_state: 'stopped', desired_power: 'shutdown', power_state: 4 })
    r = await act(stopped.uuid, { reboot: { type: 'HARD' } })
    assert.equal(r.status, 202)
    assert.equal((await rowOf(h, stopped.uuid)).desired_power, 'running')
  })

  it('other projects get 404; unknown actions 400; unoffered ones 501', async () => {
    const s = await mine()
    let r = await act(s.uuid, { 'os-stop': null }, { token: other.token })
    assert.equal(r.status, 404)
    r = await act(s.uuid, { frobnicate: null })
    assert.equal(r.status, 400)
    r = await act(s.uuid, { shelve: null })
    assert.equal(r.status, 501)
    r = await act('00000000-0000-0000-0000-000000000000', { 'os-stop': null })
    assert.equal(r.status, 404)
    // A reader may not act.
    const reader = await h.projectUser('reader')
    const rs = await insertServer(h, { project_id: reader.projectId, user_id: reader.userId })
    r = await act(rs.uuid, { 'os-stop': null }, { token: reader.token })
    assert.equal(r.status, 403)
  })

  it('os-resetState is for admins and clears the task', async () => {
    const s = await mine({ task_state: 'powering-off', desired_power: 'shutdown' })
    let r = await act(s.uuid, { 'os-resetState': { state: 'error' } })
    assert.equal(r.status, 403)
    r = await act(s.uuid, { 'os-resetState': { state: 'bogus' } }, { token: h.identity.adminToken })
    assert.equal(r.status, 400)
    r = await act(s.uuid, { 'os-resetState': { state: 'error' } }, { token: h.identity.adminToken })
    assert.equal(r.status, 202)
    const row = await rowOf(h, s.uuid)
    assert.equal(row.vm_state, 'error'); assert.equal(row.task_state, null); assert.equal(row.pending_op, null)
  })

  it('rebuild checks the image with the caller, writes the new image and answers the server view', async () => {
    const image = await h.makeImage()
    const s = await mine({ vm_state: 'error', desired_power: 'running' })
    await h.compute.ctx.db.insertInto('instance_metadata').values({ uuid: s.uuid, key: 'old', value: '1' }).execute()
    let r = await act(s.uuid, { rebuild: { imageRef: '00000000-0000-0000-0000-000000000000' } })
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'Cannot find image for rebuild')
    r = await act(s.uuid, { rebuild: { imageRef: image, name: 'new-name', metadata: { a: 'b' }, adminPass: 'pw', description: 'd', user_data: 'aGk=' } },
      { version: '2.57' })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    assert.equal(r.body.server.id, s.uuid)
    assert.equal(r.body.server.name, 'new-name')
    assert.equal(r.body.server.adminPass, 'pw')
    assert.equal(r.body.server.user_data, 'aGk=')
    assert.equal(r.body.server.status, 'REBUILD')
    assert.deepEqual(r.body.server.metadata, { a: 'b' })
    const row = await rowOf(h, s.uuid)
    assert.equal(row.image_ref, image)
    assert.equal(row.task_state, 'rebuilding')
    assert.equal(row.display_description, 'd')
    assert.deepEqual(json<any>(row.pending_op, null).imageRef, image)
    assert.equal(json<any>(row.system_metadata, {}).image_base_image_ref, image)
    // A private image of another project does not exist for this caller.
    const hidden = await h.makeImage({ visibility: 'private' })
    const s2 = await mine()
    r = await act(s2.uuid, { rebuild: { imageRef: hidden } })
    assert.equal(r.status, 400)
    r = await act(s2.uuid, { rebuild: { imageRef: image, bogus: 1 } })
    assert.equal(r.status, 400)
  })

  it('createImage makes a queued snapshot record in Glance as the caller and sets the snapshot op', async () => {
    const s = await mine()
    let r = await act(s.uuid, { createImage: { name: 'snap', metadata: { k: 'v' } } }, { version: '2.45' })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    const id = r.body.image_id as string
    const row = await rowOf(h, s.uuid)
    assert.equal(row.task_state, 'image_snapshot')
    assert.deepEqual(json<any>(row.pending_op, null).imageId, id)
    const img = await h.compute.ctx.glance.get(id, member.token)
    assert.ok(img)
    assert.equal(img.status, 'queued')
    assert.equal(img.image_type, 'snapshot')
    assert.equal(img.instance_uuid, s.uuid)
    assert.equal(img.owner, member.projectId)
    assert.equal(img.user_id, member.userId)
    assert.equal(img.k, 'v')
    // The caller's metadata may override the properties Nova sets (image_type), as in Nova.
    const s3 = await insertServer(h, { project_id: other.projectId, user_id: other.userId })
    r = await act(s3.uuid, { createImage: { name: 'snap3', metadata: { image_type: 'test' } } }, { version: '2.45', token: other.token })
    assert.equal((await h.compute.ctx.glance.get(r.body.image_id, other.token))?.image_type, 'test')
    // Before 2.45: no body, a Location header.
    const s2 = await mine()
    const raw = await h.call('POST', `/v2.1/servers/${s2.uuid}/action`, { token: member.token, body: { createImage: { name: 'snap2' } } })
    assert.equal(raw.statusCode, 202)
    assert.match(String(raw.headers.location), /\/images\/[0-9a-f-]{36}$/)
    // A second snapshot while one runs: 409, and no stray image left behind.
    r = await act(s.uuid, { createImage: { name: 'again' } }, { version: '2.45' })
    assert.equal(r.status, 409)
    r = await act(s.uuid, { createImage: {} })
    assert.equal(r.status, 400)
  })

  it('resize claims the new flavor on the same host; confirm and revert from resized', async () => {
    await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'm1.big', id: 'big', ram: 1024, vcpus: 2, disk: 2 } } })
    await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'm1.small', id: 'small', ram: 512, vcpus: 1, disk: 1 } } })
    const s = await mine()
    let r = await act(s.uuid, { resize: { flavorRef: 'small' } })
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'When resizing, instances must change flavor!')
    r = await act(s.uuid, { resize: { flavorRef: 'nope' } })
    assert.equal(r.status, 400)
    r = await act(s.uuid, { resize: { flavorRef: 'big' } })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    let row = await rowOf(h, s.uuid)
    assert.equal(row.task_state, 'resize_prep')
    assert.equal(json<any>(row.pending_op, null).flavor.flavorid, 'big')
    const sys = json<any>(row.system_metadata, {})
    assert.equal(json<any>(sys.old_flavor, {}).flavorid, 'small')
    const claimed = await h.compute.ctx.db.selectFrom('allocations').selectAll().where('consumer_uuid', '=', sys.migration_uuid).execute()
    assert.equal(claimed.find((a) => a.resource_class === 'MEMORY_MB')?.used, 1024)
    // Confirm is only for resized servers.
    r = await act(s.uuid, { confirmResize: null })
    assert.equal(r.status, 409)
    // The agent finished: VERIFY_RESIZE.
    await h.compute.ctx.db.updateTable('instances').set({ vm_state: 'resized', task_state: null, pending_op: null }).where('uuid', '=', s.uuid).execute()
    r = await act(s.uuid, { confirmResize: null })
    assert.equal(r.status, 204)
    row = await rowOf(h, s.uuid)
    assert.equal(json<any>(row.pending_op, null).kind, 'confirm_resize')
    const mine2 = await h.compute.ctx.db.selectFrom('allocations').selectAll().where('consumer_uuid', '=', s.uuid).execute()
    assert.equal(mine2.find((a) => a.resource_class === 'MEMORY_MB')?.used, 1024)
    // Revert of another resized server puts the old flavor back and drops the new claim.
    const t = await mine()
    assert.equal((await act(t.uuid, { resize: { flavorRef: 'big' } })).status, 202)
    await h.compute.ctx.db.updateTable('instances').set({ vm_state: 'resized', task_state: null, pending_op: null }).where('uuid', '=', t.uuid).execute()
    const mig = json<any>((await rowOf(h, t.uuid)).system_metadata, {}).migration_uuid
    r = await act(t.uuid, { revertResize: null })
    assert.equal(r.status, 202)
    row = await rowOf(h, t.uuid)
    assert.equal(row.task_state, 'resize_reverting')
    assert.equal(json<any>(row.flavor, {}).flavorid, SMALL.flavorid)
    assert.equal((await h.compute.ctx.db.selectFrom('allocations').selectAll().where('consumer_uuid', '=', mig).execute()).length, 0)
  })

  it('console output asks the agent with the caller token; no agent → 409; serial consoles 400', async () => {
    const s = await mine()
    let r = await act(s.uuid, { 'os-getConsoleOutput': { length: 5 } })
    assert.equal(r.status, 409)
    r = await act(s.uuid, { 'os-getConsoleOutput': { length: 'abc' } })
    assert.equal(r.status, 400)
    r = await h.json('POST', `/v2.1/servers/${s.uuid}/remote-consoles`, { token: member.token, version: '2.6',
      body: { remote_console: { protocol: 'serial', type: 'serial' } } })
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'Unavailable console type serial.')
    r = await act(s.uuid, { 'os-getSerialConsole': { type: 'serial' } })
    assert.equal(r.status, 400)
  })

  it('resize checks the quota of the growth (403, nothing changes) and keeps OS-DCF:diskConfig', async () => {
    await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'm1.huge', id: 'huge', ram: 768, vcpus: 4, disk: 2 } } })
    const p = await h.projectUser('member')
    const s = await insertServer(h, { project_id: p.projectId, user_id: p.userId })
    let r = await h.json('PUT', `/v2.1/os-quota-sets/${p.projectId}`, { body: { quota_set: { cores: 3 } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    r = await act(s.uuid, { resize: { flavorRef: 'huge' } }, { token: p.token })
    assert.equal(r.status, 403)
    assert.equal(r.body.forbidden.message, 'Quota exceeded for cores: Requested 3, but already used 1 of 3 cores')
    let row = await rowOf(h, s.uuid)
    assert.equal(row.task_state, null)
    assert.equal(json<any>(row.flavor, {}).flavorid, 'small')
    assert.equal(json<any>(row.system_metadata, {}).migration_uuid, undefined)
    // Within the quota it goes through, and the disk config asked for is kept.
    await h.json('PUT', `/v2.1/os-quota-sets/${p.projectId}`, { body: { quota_set: { cores: 20 } } })
    r = await act(s.uuid, { resize: { flavorRef: 'huge', 'OS-DCF:diskConfig': 'AUTO' } }, { token: p.token })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    row = await rowOf(h, s.uuid)
    assert.equal(json<any>(row.system_metadata, {}).disk_config, 'AUTO')
  })

  it('forceDelete deletes any server like a delete; 404 for an unknown one, 409 when locked by an admin', async () => {
    let r = await act('00000000-0000-4000-8000-000000000000', { forceDelete: null })
    assert.equal(r.status, 404)
    const s = await mine({ vm_state: 'error' })
    r = await act(s.uuid, { forceDelete: null })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    const row = await rowOf(h, s.uuid)
    assert.equal(row.desired_power, 'deleted')
    assert.equal(row.task_state, 'deleting')
    const l = await mine()
    assert.equal((await act(l.uuid, { lock: null }, { token: h.identity.adminToken })).status, 202)
    r = await act(l.uuid, { forceDelete: null })
    assert.equal(r.status, 409)
    assert.equal((await rowOf(h, l.uuid)).task_state, null)
  })

  it('actions not offered: 404 for an unknown server, else 501', async () => {
    let r = await act('00000000-0000-4000-8000-000000000000', { migrate: null })
    assert.equal(r.status, 404)
    const s = await mine()
    r = await act(s.uuid, { migrate: null })
    assert.equal(r.status, 501)
  })

  it('rebuild keeps OS-DCF:diskConfig', async () => {
    const img = await h.makeImage()
    const s = await mine({ system_metadata: JSON.stringify({ disk_config: 'MANUAL' }) })
    const r = await act(s.uuid, { rebuild: { imageRef: img, 'OS-DCF:diskConfig': 'AUTO' } })
    assert.equal(r.status, 202, JSON.stringify(r.body))
    assert.equal(r.body.server['OS-DCF:diskConfig'], 'AUTO')
  })

  it('createBackup makes a backup image and keeps only `rotation` of that type', async () => {
    const s = await mine()
    const ids: string[] = []
    for (const name of ['b1', 'b2', 'b3']) {
      const r = await act(s.uuid, { createBackup: { name, backup_type: 'daily', rotation: 2 } }, { version: '2.45' })
      assert.equal(r.status, 202, JSON.stringify(r.body))
      ids.push(r.body.image_id)
      const row = await rowOf(h, s.uuid)
      assert.equal(row.task_state, 'image_backup')
      // The agent finished the snapshot.
      await h.compute.ctx.db.updateTable('instances').set({ task_state: null, pending_op: null }).where('uuid', '=', s.uuid).execute()
      await new Promise((res) => setTimeout(res, 5))
    }
    const left = await h.compute.ctx.glance.list({ instance_uuid: s.uuid, image_type: 'backup' }, member.token)
    assert.deepEqual(left.map((i) => i.id).sort(), ids.slice(1).sort())
    assert.equal(left[0]!.backup_type, 'daily')
    // Before 2.45: a Location header; bad bodies are 400.
    const raw = await h.call('POST', `/v2.1/servers/${s.uuid}/action`, { token: member.token,
      body: { createBackup: { name: 'b4', backup_type: 'weekly', rotation: '1' } } })
    assert.equal(raw.statusCode, 202)
    assert.match(String(raw.headers.location), /\/images\/[0-9a-f-]{36}$/)
    await h.compute.ctx.db.updateTable('instances').set({ task_state: null, pending_op: null }).where('uuid', '=', s.uuid).execute()
    assert.equal((await act(s.uuid, { createBackup: { name: 'b5', backup_type: 'daily', rotation: -1 } })).status, 400)
    assert.equal((await act(s.uuid, { createBackup: { name: 'b5', rotation: 1 } })).status, 400)
  })
})
