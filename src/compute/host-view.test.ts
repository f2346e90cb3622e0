import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Conductor } from './conductor.ts'
import { insertTestInstance, registerTestHost, testFlavor } from './control-testing.ts'
import { HostView } from './host-view.ts'
import { claim, release } from './placement.ts'
import { type ComputeHarness, computeHarness } from './testing.ts'

// The scheduler's host view is kept between conductor passes: what other processes (another
// controller, the report handler, the API) change in between must be seen before a decision.

describe('host view', () => {
  let h: ComputeHarness
  before(async () => {
    h = await computeHarness()
    await h.compute.conductor.stop()
  })
  after(async () => { await h.close() })
  const c = () => h.compute.ctx
  const db = () => h.compute.ctx.db
  const host = (name: string, zone: string, o: Record<string, unknown> = {}) => registerTestHost(h, name, zone, o)
  // 8192 MB − 512 reserved: two of these fit on one host.
  const flavorSnapshot = testFlavor({ memory_mb: 3840, vcpus: 1, root_gb: 1 })
  const one = async (zone: string) => (await insertTestInstance(c(), { availability_zone: zone, flavorSnapshot })).uuid
  const get = (uuid: string) => db().selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()

  test('claims and releases made by others between passes are seen', async () => {
    const rp = await host('hv1', 'hvz')
    const k = new Conductor(c())
    const first = await one('hvz')
    await k.runOnce()
    assert.equal((await get(first)).host, 'hv1')
    // Another controller takes the rest of the host.
    const other = { uuid: '00000000-0000-4000-8000-0000000000a1', project_id: 'p1', user_id: 'u1' }
    assert.equal(await claim(db(), other, rp, { MEMORY_MB: 3840 }), 'claimed')
    const second = await one('hvz')
    await k.runOnce()
    let row = await get(second)
    assert.equal(row.vm_state, 'error', 'the host is full: NoValidHost, not a double booking')
    // It gives the room back: the next server gets it.
    await release(db(), other.uuid)
    const third = await one('hvz')
    await k.runOnce()
    row = await get(third)
    assert.equal(row.host, 'hv1')
    assert.equal(row.task_state, 'spawning')
  })

  test('a service disabled through the API is seen at the next pass; a new host at once', async () => {
    await host('hv2', 'hvd')
    const k = new Conductor(c())
    const a = await one('hvd')
    await k.runOnce()
    assert.equal((await get(a)).host, 'hv2')
    await db().updateTable('services').set({ disabled: 1, updated_at: new Date().toISOString() }).where('host', '=', 'hv2').execute()
    const b = await one('hvd')
    await k.runOnce()
    assert.equal((await get(b)).vm_state, 'error')
    await host('hv3', 'hvd')
    const d = await one('hvd')
    await k.runOnce()
    assert.equal((await get(d)).host, 'hv3')
  })

  test('the view follows its own claims without reading again, and reads when told', async () => {
    const rp = await host('hv4', 'hvo')
    const view = new HostView(c())
    let hv = (await view.refresh()).find((x) => x.host === 'hv4')!
    const before = hv.usage.MEMORY_MB!.used
    assert.equal(await claim(db(), { uuid: '00000000-0000-4000-8000-0000000000b1', project_id: 'p1', user_id: 'u1' }, rp, { MEMORY_MB: 100 }), 'claimed')
    view.note(rp, { MEMORY_MB: 100 })
    hv = (await view.refresh()).find((x) => x.host === 'hv4')!
    assert.equal(hv.usage.MEMORY_MB!.used, before + 100)
    assert.equal(hv.usage.MEMORY_MB!.free, hv.usage.MEMORY_MB!.capacity - before - 100)
    // A claim nobody told the view about: the generation sum gives it away.
    assert.equal(await claim(db(), { uuid: '00000000-0000-4000-8000-0000000000b2', project_id: 'p1', user_id: 'u1' }, rp, { MEMORY_MB: 50 }), 'claimed')
    hv = (await view.refresh()).find((x) => x.host === 'hv4')!
    assert.equal(hv.usage.MEMORY_MB!.used, before + 150)
  })
})
