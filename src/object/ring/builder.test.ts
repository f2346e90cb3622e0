import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RingBuilder } from './builder.ts'

const HOUR = 3600_000
const T0 = Date.UTC(2025, 0, 1)

function builder(partPower: number, replicas: number, mph: number, zones: number[], weights?: number[]): RingBuilder {
  const b = RingBuilder.create(partPower, replicas, mph)
  zones.forEach((z, i) => b.addDev({ region: 1, zone: z, ip: `10.0.${z}.${i + 1}`, port: 6200, device: `sd${i}`,
    weight: weights?.[i] ?? 100 }))
  return b
}

/** Device ids per partition, one array per partition. */
function assignments(b: RingBuilder): number[][] {
  const t = b.getTables()
  return Array.from({ length: t[0].length }, (_, p) => t.filter((row) => p < row.length).map((row) => row[p]))
}

function countsById(b: RingBuilder): Map<number, number> {
  const m = new Map<number, number>()
  for (const ids of assignments(b)) for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1)
  return m
}

test('3 replicas on 3 equal zones: one replica per zone for every partition', () => {
  const b = builder(8, 3, 1, [1, 2, 3, 1, 2, 3])
  const res = b.rebalance({ seed: 1, now: T0 })
  assert.equal(res.moved, 256 * 3)
  assert.equal(res.balance, 0)
  assert.equal(res.dispersion, 0)
  assert.deepEqual(res.warnings, [])
  for (const ids of assignments(b)) {
    assert.deepEqual(ids.map((id) => b.devs[id]!.zone).sort(), [1, 2, 3])
  }
})

test('two regions: every partition is in both regions', () => {
  const b = RingBuilder.create(8, 3, 0)
  for (let i = 0; i < 6; i++) b.addDev({ region: 1 + (i % 2), zone: 1 + (i % 3), ip: `10.1.0.${i}`, port: 6200, device: 'd', weight: 1 })
  const res = b.rebalance({ seed: 3 })
  assert.equal(res.dispersion, 0)
  for (const ids of assignments(b)) assert.equal(new Set(ids.map((id) => b.devs[id]!.region)).size, 2)
})

test('unequal weights: partitions follow weight within a few %, replicas in distinct zones', () => {
  const weights = [100, 200, 300, 150, 250, 120, 80, 310, 90, 200, 200, 100]
  const b = builder(12, 3, 0, weights.map((_, i) => (i % 6) + 1), weights)
  const res = b.rebalance({ seed: 2 })
  assert.ok(res.balance < 2, `balance ${res.balance}`)
  const total = weights.reduce((a, w) => a + w, 0)
  const counts = countsById(b)
  weights.forEach((w, id) => {
    const want = (4096 * 3 * w) / total
    assert.ok(Math.abs(counts.get(id)! - want) / want < 0.02, `device ${id}: ${counts.get(id)} vs ${want}`)
  })
  for (const ids of assignments(b)) assert.equal(new Set(ids.map((id) => b.devs[id]!.zone)).size, 3)
})

test('lopsided zones: weight wins, but never all replicas in one zone', () => {
  const b = builder(10, 3, 0, [1, 2, 3, 3])
  const res = b.rebalance({ seed: 4 })
  assert.ok(res.balance < 1, `balance ${res.balance}`)
  let twoInZone3 = 0
  for (const ids of assignments(b)) {
    assert.equal(new Set(ids).size, 3, 'three distinct devices')
    const z3 = ids.filter((id) => b.devs[id]!.zone === 3).length
    assert.ok(z3 >= 1 && z3 <= 2)
    if (z3 === 2) twoInZone3++
  }
  assert.equal(twoInZone3, 512) // zone 3 has half the weight: 1.5 replicas per partition
})

test('adding a 4th device moves parts×replicas/4, at most one replica per partition', () => {
  const b = builder(8, 3, 1, [1, 2, 3])
  b.rebalance({ seed: 5, now: T0 })
  const before = assignments(b)
  b.addDev({ region: 1, zone: 4, ip: '10.0.4.4', port: 6200, device: 'sd3', weight: 100 })

  // Within min_part_hours of the first placement nothing may move.
  const early = b.rebalance({ seed: 5, now: T0 + HOUR / 2 })
  assert.equal(early.moved, 0)
  assert.deepEqual(assignments(b), before)

  const res = b.rebalance({ seed: 5, now: T0 + 2 * HOUR })
  assert.equal(res.moved, (256 * 3) / 4)
  assert.equal(res.balance, 0)
  assert.equal(res.dispersion, 0)
  const after = assignments(b)
  let changedParts = 0
  after.forEach((ids, p) => {
    const changed = ids.filter((id, r) => id !== before[p][r]).length
    assert.ok(changed <= 1, `partition ${p} lost ${changed} replicas at once`)
    changedParts += changed
    assert.equal(new Set(ids.map((id) => b.devs[id]!.zone)).size, 3)
  })
  assert.equal(changedParts, 192)
  assert.equal(countsById(b).get(3), 192)

  // Partitions moved just now are frozen for min_part_hours; the rest may still move.
  b.addDev({ region: 1, zone: 5, ip: '10.0.5.5', port: 6200, device: 'sd4', weight: 100 })
  const res2 = b.rebalance({ seed: 5, now: T0 + 2 * HOUR + 10 * 60_000 })
  assert.ok(res2.moved > 0)
  const after2 = assignments(b)
  after.forEach((ids, p) => {
    const movedNow = ids.some((id, r) => id !== before[p][r])
    if (movedNow) assert.deepEqual(after2[p], ids, `partition ${p} moved twice within min_part_hours`)
    assert.ok(after2[p].filter((id, r) => id !== ids[r]).length <= 1)
  })
})

test('removing a device reassigns only its partitions, even within min_part_hours', () => {
  const b = builder(8, 3, 24, [1, 2, 3, 4, 5])
  b.rebalance({ seed: 6, now: T0 })
  const before = assignments(b)
  const onDev2 = before.flat().filter((id) => id === 2).length
  b.removeDev(2)
  assert.deepEqual(b.pendingRemoval, [2])
  const res = b.rebalance({ seed: 6, now: T0 + 1000 })
  assert.equal(res.removed, 1)
  assert.equal(res.moved, onDev2)
  assert.equal(b.devs[2], null)
  assert.equal(res.dispersion, 0)
  assert.ok(res.balance < 1, `balance ${res.balance}`)
  assignments(b).forEach((ids, p) => ids.forEach((id, r) => {
    if (before[p][r] !== 2) assert.equal(id, before[p][r], `partition ${p} replica ${r} moved needlessly`)
    else assert.notEqual(id, 2)
  }))
  // The freed id is reused by the next device.
  assert.equal(b.addDev({ region: 1, zone: 6, ip: '10.0.6.6', port: 6200, device: 'x', weight: 1 }), 2)
})

test('weight 0 drains a device; pretendMinPartHoursPassed lifts the freeze', () => {
  const b = builder(8, 3, 1, [1, 2, 3, 4])
  b.rebalance({ seed: 7, now: T0 })
  b.setWeight(0, 0)
  assert.equal(b.rebalance({ seed: 7, now: T0 + 1000 }).moved, 0)
  assert.ok(b.minPartSecondsLeft(T0 + 1000) > 3500)
  b.pretendMinPartHoursPassed()
  assert.equal(b.minPartSecondsLeft(T0 + 1000), 0)
  const res = b.rebalance({ seed: 7, now: T0 + 2000 })
  assert.equal(countsById(b).get(0) ?? 0, 0)
  assert.equal(res.moved, 192)
  assert.equal(res.balance, 0)
  assert.ok(b.devs[0], 'a zero-weight device stays in the ring')
})

test('more replicas than devices is allowed, with a warning', () => {
  const b = builder(6, 3, 0, [1])
  const res = b.rebalance({ seed: 8 })
  assert.match(res.warnings.join(), /3 replicas but only 1 device/)
  for (const ids of assignments(b)) assert.deepEqual(ids, [0, 0, 0])
  assert.deepEqual(b.getRing().getPartNodes(5).map((d) => d.id), [0])
  // Adding devices spreads them out again (one replica per partition per rebalance).
  b.addDev({ region: 1, zone: 2, ip: '10.0.2.2', port: 6200, device: 'b', weight: 100 })
  b.addDev({ region: 1, zone: 3, ip: '10.0.3.3', port: 6200, device: 'c', weight: 100 })
  b.rebalance({ seed: 8 })
  b.rebalance({ seed: 8 })
  const done = b.rebalance({ seed: 8 })
  assert.equal(done.dispersion, 0)
  assert.equal(done.balance, 0)
})

test('fractional replicas: the last table covers part of the partitions', () => {
  const b = builder(8, 2.5, 0, [1, 2, 3, 4])
  const res = b.rebalance({ seed: 9 })
  assert.deepEqual(b.getTables().map((t) => t.length), [256, 256, 128])
  assert.equal(res.moved, 640)
  assert.equal(res.balance, 0)
  const ring = b.getRing()
  assert.equal(ring.replicas, 2.5)
  assert.equal(ring.getPartNodes(10).length, 3)
  assert.equal(ring.getPartNodes(200).length, 2)
})

test('a seed makes rebalance reproducible, also through JSON', () => {
  const a = builder(8, 3, 1, [1, 2, 3, 4, 5])
  const c = RingBuilder.fromJSON(JSON.parse(JSON.stringify(a.toJSON())))
  a.rebalance({ seed: 'abc', now: T0 })
  c.rebalance({ seed: 'abc', now: T0 })
  assert.deepEqual(a.getTables(), c.getTables())
  const d = RingBuilder.fromJSON(JSON.parse(JSON.stringify(a.toJSON())))
  assert.deepEqual(d.getTables(), a.getTables())
  assert.equal(d.minPartSecondsLeft(T0), 3600)
  assert.equal(d.version, a.version)
  assert.deepEqual(d.devs, a.devs)
})

test('validation', () => {
  assert.throws(() => RingBuilder.create(25, 3, 1), /part_power/)
  assert.throws(() => RingBuilder.create(8, 0.5, 1), /replicas/)
  assert.throws(() => RingBuilder.create(8, 3, -1), /min_part_hours/)
  const b = builder(4, 3, 1, [1, 2])
  assert.throws(() => b.getRing(), /never been rebalanced/)
  assert.throws(() => b.addDev({ region: 1, zone: 1, ip: '10.0.1.1', port: 6200, device: 'sd0', weight: 1 }),
    /Device 0 already uses 10.0.1.1:6200\/sd0/)
  assert.throws(() => b.addDev({ region: 1, zone: 1, ip: '10.0.1.1', port: 0, device: 'x', weight: 1 }), /port/)
  assert.throws(() => b.addDev({ region: 1, zone: 1, ip: '10.0.1.1', port: 1, device: 'a/b', weight: 1 }), /device/)
  assert.throws(() => b.addDev({ region: 1, zone: 1, ip: '10.0.1.1', port: 1, device: 'a', weight: -1 }), /weight/)
  assert.throws(() => b.addDev({ region: 1, zone: 1, ip: '10.0.1.1', port: 1, device: 'a', weight: 1, id: 1 }), /Duplicate/)
  assert.throws(() => b.removeDev(9), /no device with id 9/)
  b.removeDev(1)
  assert.throws(() => b.setWeight(1, 5), /marked for removal/)
  assert.throws(() => b.removeDev(1), /marked for removal/)
  b.setWeight(0, 0)
  assert.throws(() => b.rebalance(), /no devices with weight/)
  assert.throws(() => RingBuilder.fromJSON({ format: 'x' }), /not a cumulo ring builder/)
})
