import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  allUsage, allocationsOf, capacityOf, claim, providerUsage, release, resourcesOf, setInventory, unfit, usagesByProject,
} from './placement.ts'
import { type ComputeHarness, computeHarness } from './testing.ts'

const consumer = (uuid: string, project = 'p1') => ({ uuid, project_id: project, user_id: 'u1' })
const NOW = '2026-01-01T00:00:00.000Z'

describe('placement', () => {
  let h: ComputeHarness
  before(async () => {
    h = await computeHarness()
    await h.compute.conductor.stop()
  })
  after(async () => { await h.close() })
  const db = () => h.compute.ctx.db
  const gen = async (uuid: string) => Number((await db().selectFrom('resource_providers').select('generation').where('uuid', '=', uuid).executeTakeFirstOrThrow()).generation)

  test('resources of a flavor; capacity', () => {
    assert.deepEqual(resourcesOf({ vcpus: 2, memory_mb: 2048, root_gb: 20, ephemeral_gb: 5, swap: 1500 }), { VCPU: 2, MEMORY_MB: 2048, DISK_GB: 27 })
    assert.deepEqual(resourcesOf({ vcpus: 1, memory_mb: 512, root_gb: 20, ephemeral_gb: 0, swap: 0 }, true), { VCPU: 1, MEMORY_MB: 512, DISK_GB: 0 })
    assert.equal(capacityOf({ total: 8, reserved: 0, allocation_ratio: 4 }), 32)
    assert.equal(capacityOf({ total: 8192, reserved: 512, allocation_ratio: 1 }), 7680)
    assert.equal(capacityOf({ total: 10, reserved: 1, allocation_ratio: 1.5 }), 13)
  })

  test('setInventory creates the provider and bumps the generation only on change', async () => {
    const g1 = await setInventory(db(), NOW, 'rp-a', 'host-a', { VCPU: { total: 2, allocation_ratio: 2 }, MEMORY_MB: { total: 1024, reserved: 24 } })
    assert.equal(g1, 1)
    assert.equal(await setInventory(db(), NOW, 'rp-a', 'host-a', { VCPU: { total: 2, allocation_ratio: 2 }, MEMORY_MB: { total: 1024, reserved: 24 } }), 1)
    assert.equal(await gen('rp-a'), 1)
    const u = await providerUsage(db(), 'rp-a')
    assert.equal(u.VCPU!.capacity, 4)
    assert.equal(u.MEMORY_MB!.capacity, 1000)
    assert.equal(u.MEMORY_MB!.max_unit, 1024)
    assert.equal(u.VCPU!.free, 4)
    assert.equal(await setInventory(db(), NOW, 'rp-a', 'host-a', { VCPU: { total: 3, allocation_ratio: 2 }, MEMORY_MB: { total: 1024, reserved: 24 } }), 2)
    assert.deepEqual(await providerUsage(db(), 'nope'), {})
  })

  test('claims: fit, no room, min/max/step, missing class, unknown provider, consumer taken', async () => {
    await setInventory(db(), NOW, 'rp-b', 'host-b', {
      VCPU: { total: 4 }, MEMORY_MB: { total: 2048, reserved: 0, step_size: 256, max_unit: 1024 },
    })
    const g = await gen('rp-b')
    assert.equal(await claim(db(), consumer('c1'), 'rp-b', { VCPU: 2, MEMORY_MB: 1024 }), 'claimed')
    assert.equal(await gen('rp-b'), g + 1)
    assert.deepEqual(await allocationsOf(db(), 'c1'), { 'rp-b': { VCPU: 2, MEMORY_MB: 1024 } })
    // The same consumer cannot claim twice (another conductor's claim wins).
    assert.equal(await claim(db(), consumer('c1'), 'rp-b', { VCPU: 1 }), 'consumer-taken')
    assert.equal(await claim(db(), consumer('c2'), 'rp-b', { VCPU: 1, MEMORY_MB: 1000 }), 'no-room', 'step_size')
    assert.equal(await claim(db(), consumer('c2'), 'rp-b', { VCPU: 1, MEMORY_MB: 1280 }), 'no-room', 'max_unit')
    assert.equal(await claim(db(), consumer('c2'), 'rp-b', { VCPU: 3, MEMORY_MB: 256 }), 'no-room', 'capacity')
    assert.equal(await claim(db(), consumer('c2'), 'rp-b', { VCPU: 1, DISK_GB: 1 }), 'no-room', 'no DISK_GB inventory')
    assert.equal(await claim(db(), consumer('c2'), 'rp-b', { VCPU: 1, DISK_GB: 0 }), 'claimed', 'zero amounts are not claimed')
    assert.equal(await claim(db(), consumer('c3'), 'rp-zz', { VCPU: 1 }), 'no-provider')
    // A failed claim leaves no consumer behind.
    assert.equal(await db().selectFrom('consumers').select('uuid').where('uuid', '=', 'c3').executeTakeFirst(), undefined)
    const u = await providerUsage(db(), 'rp-b')
    assert.equal(u.VCPU!.used, 3)
    assert.equal(u.MEMORY_MB!.used, 1024)
    assert.equal(unfit(u, { VCPU: 1 }), null)
    assert.match(unfit(u, { VCPU: 2 })!, /VCPU/)
    const all = await allUsage(db())
    assert.equal(all.get('rp-b')!.VCPU!.used, 3)
  })

  test('release gives the room back and bumps the generation; usage by project', async () => {
    await setInventory(db(), NOW, 'rp-c', 'host-c', { VCPU: { total: 2 } })
    assert.equal(await claim(db(), consumer('d1', 'px'), 'rp-c', { VCPU: 2 }), 'claimed')
    assert.equal(await claim(db(), consumer('d2', 'px'), 'rp-c', { VCPU: 1 }), 'no-room')
    assert.deepEqual(await usagesByProject(db(), 'px'), { VCPU: 2 })
    const g = await gen('rp-c')
    assert.deepEqual(await release(db(), 'd1'), ['rp-c'])
    assert.equal(await gen('rp-c'), g + 1)
    assert.deepEqual(await release(db(), 'd1'), [])
    assert.deepEqual(await usagesByProject(db(), 'px'), {})
    assert.equal(await claim(db(), consumer('d2', 'px'), 'rp-c', { VCPU: 1 }), 'claimed')
    // A resize swaps the amounts; its own usage does not count against the new one; too big: unchanged.
    assert.equal(await claim(db(), consumer('d2', 'px'), 'rp-c', { VCPU: 2 }, { replace: true }), 'claimed')
    assert.deepEqual(await allocationsOf(db(), 'd2'), { 'rp-c': { VCPU: 2 } })
    assert.equal(await claim(db(), consumer('d2', 'px'), 'rp-c', { VCPU: 3 }, { replace: true }), 'no-room')
    assert.deepEqual(await allocationsOf(db(), 'd2'), { 'rp-c': { VCPU: 2 } })
    assert.equal(await claim(db(), consumer('d2', 'px'), 'rp-c', { VCPU: 1 }, { replace: true }), 'claimed')
    // Releasing on another provider only leaves the allocation.
    assert.deepEqual(await release(db(), 'd2', 'rp-b'), [])
    assert.deepEqual(await allocationsOf(db(), 'd2'), { 'rp-c': { VCPU: 1 } })
  })

  test('concurrent claims never over-commit a provider', async () => {
    await setInventory(db(), NOW, 'rp-d', 'host-d', { VCPU: { total: 50 }, MEMORY_MB: { total: 50 * 256 } })
    const results = await Promise.all(Array.from({ length: 51 }, (_, i) => claim(db(), consumer(`race-${i}`), 'rp-d', { VCPU: 1, MEMORY_MB: 256 })))
    assert.equal(results.filter((r) => r === 'claimed').length, 50)
    assert.equal(results.filter((r) => r === 'no-room').length, 1)
    const u = await providerUsage(db(), 'rp-d')
    assert.equal(u.VCPU!.used, 50)
    assert.equal(u.MEMORY_MB!.used, 50 * 256)
    // The same consumer claimed concurrently on two providers is placed once.
    await setInventory(db(), NOW, 'rp-e', 'host-e', { VCPU: { total: 8 } })
    await setInventory(db(), NOW, 'rp-f', 'host-f', { VCPU: { total: 8 } })
    const twice = await Promise.all([claim(db(), consumer('dup'), 'rp-e', { VCPU: 1 }), claim(db(), consumer('dup'), 'rp-f', { VCPU: 1 })])
    assert.deepEqual(twice.sort(), ['claimed', 'consumer-taken'])
    assert.equal(Object.keys(await allocationsOf(db(), 'dup')).length, 1)
  })
})
