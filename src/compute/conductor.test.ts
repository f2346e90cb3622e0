import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Conductor, SCHEDULE_EVENT } from './conductor.ts'
import { insertTestInstance, registerTestHost, testFlavor } from './control-testing.ts'
import { hostRevision } from './instances.ts'
import { allocationsOf, claim, providerUsage } from './placement.ts'
import { NO_VALID_HOST, parseZone } from './scheduler.ts'
import { type ComputeHarness, computeHarness } from './testing.ts'

// Each test registers its own hosts in its own availability zone, so tests don't see each
// other's hosts. The harness's own conductor is stopped: tests run passes themselves.

describe('scheduler and conductor', () => {
  let h: ComputeHarness
  before(async () => {
    h = await computeHarness()
    await h.compute.conductor.stop()
  })
  after(async () => { await h.close() })
  const c = () => h.compute.ctx
  const db = () => h.compute.ctx.db

  const host = (name: string, zone: string, o: Record<string, unknown> = {}) => registerTestHost(h, name, zone, o)
  const rows = (uuids: string[]) => db().selectFrom('instances').selectAll().where('uuid', 'in', uuids).orderBy('launch_index').execute()
  const faultOf = (uuid: string) => db().selectFrom('instance_faults').selectAll().where('uuid', '=', uuid).orderBy('id', 'desc').executeTakeFirst()
  const eventsOf = (uuid: string) => db().selectFrom('instance_action_events').innerJoin('instance_actions', 'instance_actions.id', 'instance_action_events.action_id')
    .select(['event', 'result']).where('instance_actions.uuid', '=', uuid).execute()
  /** A request of `n` servers sharing a reservation (min_count as the API would store it). */
  async function request(n: number, o: Parameters<typeof insertTestInstance>[1] & { min?: number } = {}) {
    const { min, ...rest } = o
    const reservation = `r-${randomUUID()}`
    const out: string[] = []
    for (let i = 0; i < n; i++) {
      const r = await insertTestInstance(c(), { reservation_id: reservation, launch_index: i,
        system_metadata: JSON.stringify(min ? { min_count: min } : {}), ...rest })
      out.push(r.uuid)
    }
    return out
  }

  test('parseZone', () => {
    assert.deepEqual(parseZone(''), { zone: '' })
    assert.deepEqual(parseZone('az1'), { zone: 'az1' })
    assert.deepEqual(parseZone('nova:h1'), { zone: 'nova', host: 'h1' })
    assert.deepEqual(parseZone('nova::n1'), { zone: 'nova', node: 'n1' })
    assert.deepEqual(parseZone('', { force_host: 'h2' }), { zone: '', host: 'h2' })
  })

  test('racing conductors place exactly what fits: 50 of 51, the 51st in ERROR with NoValidHost', async () => {
    // 13312 MB − 512 reserved = 50 × 256 MB; 16 vCPU × 4 and 100 GB leave room for more.
    const rp = await host('race1', 'race', { vcpus: 16, memory_mb: 13312, local_gb: 100 })
    const flavorSnapshot = testFlavor({ memory_mb: 256, vcpus: 1, root_gb: 1 })
    const uuids: string[] = []
    for (let i = 0; i < 51; i++) uuids.push(...await request(1, { availability_zone: 'race', flavorSnapshot }))
    const conductors = [new Conductor(c()), new Conductor(c()), new Conductor(c())]
    await Promise.all(conductors.map((k) => k.runOnce()))
    const after = await rows(uuids)
    const placed = after.filter((r) => r.host === 'race1')
    const failed = after.filter((r) => r.vm_state === 'error')
    assert.equal(placed.length, 50)
    assert.equal(failed.length, 1)
    for (const r of placed) {
      assert.equal(r.task_state, 'spawning')
      assert.equal(r.node, 'race1')
      assert.deepEqual(await eventsOf(r.uuid), [{ event: SCHEDULE_EVENT, result: 'Success' }])
    }
    const u = await providerUsage(db(), rp)
    assert.equal(u.MEMORY_MB!.used, 50 * 256)
    assert.ok(u.MEMORY_MB!.used <= u.MEMORY_MB!.capacity)
    assert.equal(u.VCPU!.used, 50)
    const bad = failed[0]!
    assert.equal(bad.task_state, null)
    assert.equal(bad.host, null)
    assert.deepEqual(await allocationsOf(db(), bad.uuid), {})
    const f = await faultOf(bad.uuid)
    assert.equal(f?.message, NO_VALID_HOST)
    assert.equal(f?.code, 500)
    assert.deepEqual(await eventsOf(bad.uuid), [{ event: SCHEDULE_EVENT, result: 'Error' }])
    // The host's watch moved (once per assignment batch, not once per server).
    assert.ok(await hostRevision(db(), 'race1') >= 1)
    // Nothing is left to do.
    assert.equal(await conductors[0]!.runOnce(), 0)
  })

  test('multi-create: below min_count all fail and nothing stays claimed; at or above it the rest get hosts', async () => {
    const flavorSnapshot = testFlavor({ memory_mb: 1024 })
    // Each host: 2048 MB → 2 servers.
    const rp1 = await host('mc1', 'mc', { memory_mb: 2048 })
    const rp2 = await host('mc2', 'mc', { memory_mb: 2048 })
    const k = new Conductor(c())
    const all = await request(5, { availability_zone: 'mc', flavorSnapshot })   // min_count defaults to all
    await k.runOnce()
    for (const r of await rows(all)) {
      assert.equal(r.vm_state, 'error')
      assert.equal((await faultOf(r.uuid))?.message, NO_VALID_HOST)
    }
    assert.equal((await providerUsage(db(), rp1)).MEMORY_MB!.used, 0)
    assert.equal((await providerUsage(db(), rp2)).MEMORY_MB!.used, 0)
    const some = await request(5, { availability_zone: 'mc', flavorSnapshot, min: 3 })
    await k.runOnce()
    const r2 = await rows(some)
    assert.equal(r2.filter((r) => r.task_state === 'spawning').length, 4)
    assert.equal(r2[4]!.vm_state, 'error')
    // Spread: two on each host.
    assert.equal(r2.filter((r) => r.host === 'mc1').length, 2)
    assert.equal(r2.filter((r) => r.host === 'mc2').length, 2)
  })

  test('server groups: anti-affinity (and max_server_per_host), affinity', async () => {
    for (const n of ['aa1', 'aa2', 'aa3']) await host(n, 'aa')
    const k = new Conductor(c())
    const group = async (policy: string, members: string[], rules = {}) => {
      const g = randomUUID()
      await db().insertInto('server_groups').values({ uuid: g, name: g, project_id: 'p1', user_id: 'u1', policy, rules: JSON.stringify(rules), created_at: new Date().toISOString() }).execute()
      for (const m of members) await db().insertInto('server_group_members').values({ group_uuid: g, instance_uuid: m }).execute()
    }
    const anti = await request(4, { availability_zone: 'aa', min: 1 })
    await group('anti-affinity', anti)
    await k.runOnce()
    let r = await rows(anti)
    assert.equal(new Set(r.slice(0, 3).map((x) => x.host)).size, 3)
    assert.equal(r[3]!.vm_state, 'error')
    // A member placed earlier counts too; max_server_per_host 2 allows two per host.
    const anti2 = await request(4, { availability_zone: 'aa', min: 1 })
    await group('anti-affinity', anti2, { max_server_per_host: 2 })
    await k.runOnce()
    r = await rows(anti2)
    assert.equal(r.filter((x) => x.host).length, 4)
    const per = new Map<string, number>()
    for (const x of r) per.set(x.host!, (per.get(x.host!) ?? 0) + 1)
    assert.ok([...per.values()].every((n) => n <= 2))
    const aff = await request(3, { availability_zone: 'aa' })
    await group('affinity', aff)
    await k.runOnce()
    r = await rows(aff)
    assert.equal(new Set(r.map((x) => x.host)).size, 1)
    assert.ok(r[0]!.host)
    // soft-affinity packs (against the RAM spread); soft-anti-affinity spreads.
    const soft = await request(3, { availability_zone: 'aa' })
    await group('soft-affinity', soft)
    await k.runOnce()
    assert.equal(new Set((await rows(soft)).map((x) => x.host)).size, 1)
    const softAnti = await request(3, { availability_zone: 'aa' })
    await group('soft-anti-affinity', softAnti)
    await k.runOnce()
    assert.equal(new Set((await rows(softAnti)).map((x) => x.host)).size, 3)
    // A later member follows the others.
    const late = await request(1, { availability_zone: 'aa' })
    await db().insertInto('server_group_members').values({ group_uuid: (await db().selectFrom('server_group_members').select('group_uuid')
      .where('instance_uuid', '=', aff[0]!).executeTakeFirstOrThrow()).group_uuid, instance_uuid: late[0]! }).execute()
    await k.runOnce()
    assert.equal((await rows(late))[0]!.host, r[0]!.host)
  })

  test('filters: disabled, down and forced-down services; retry hosts; zones; forced host', async () => {
    for (const n of ['f1', 'f2', 'f3', 'f4']) await host(n, 'fz')
    await db().updateTable('services').set({ disabled: 1 }).where('host', '=', 'f1').execute()
    await db().updateTable('services').set({ last_seen_at: new Date(Date.now() - 120_000).toISOString() }).where('host', '=', 'f2').execute()
    await db().updateTable('services').set({ forced_down: 1 }).where('host', '=', 'f3').execute()
    const k = new Conductor(c())
    const a = await request(1, { availability_zone: 'fz' })
    const retried = await request(1, { availability_zone: 'fz', system_metadata: JSON.stringify({ retry_hosts: ['f4'] }) })
    const forced = await request(1, { availability_zone: 'fz:f1' })
    const forcedDown = await request(1, { availability_zone: 'fz:f2' })
    const nozone = await request(1, { availability_zone: 'no-such-zone' })
    await k.runOnce()
    assert.equal((await rows(a))[0]!.host, 'f4')
    assert.equal((await rows(retried))[0]!.vm_state, 'error')
    assert.equal((await rows(forced))[0]!.host, 'f1')
    assert.equal((await rows(forcedDown))[0]!.vm_state, 'error')
    assert.equal((await rows(nozone))[0]!.vm_state, 'error')
    // Deleted or no-longer-scheduling servers are left alone.
    const gone = await request(1, { availability_zone: 'fz', deleted: 1 })
    await k.runOnce()
    assert.equal((await rows(gone))[0]!.host, null)
    assert.deepEqual(await allocationsOf(db(), gone[0]!), {})
  })

  test('a claim left by a dead conductor is taken over once it is old; a fresh one is left alone', async () => {
    const rp = await host('st1', 'stz')
    const k = new Conductor(c())
    const [fresh] = await request(1, { availability_zone: 'stz' })
    const [old] = await request(1, { availability_zone: 'stz', created_at: new Date(Date.now() - 120_000).toISOString() })
    for (const u of [fresh!, old!]) assert.equal(await claim(db(), { uuid: u, project_id: 'p1', user_id: 'u1' }, rp, { VCPU: 1 }), 'claimed')
    await k.runOnce()
    const [f] = await rows([fresh!])
    const [o] = await rows([old!])
    assert.equal(f!.host, null)
    assert.equal(f!.task_state, 'scheduling')
    assert.equal(o!.host, 'st1')
    assert.deepEqual(await allocationsOf(db(), old!), { [rp]: { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 } })
  })

  test('the loop: wake() schedules at once; stop() ends it', async () => {
    await host('w1', 'wz')
    const k = new Conductor(c(), { intervalMs: 60_000 })
    k.start()
    await new Promise((r) => setTimeout(r, 50))
    const [u] = await request(1, { availability_zone: 'wz' })
    const t0 = Date.now()
    k.wake()
    let row
    for (;;) {
      row = (await rows([u!]))[0]!
      if (row.host || Date.now() - t0 > 3000) break
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.equal(row.host, 'w1')
    await k.stop()
  })
})
