import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Dev, type RingData, Ring } from './ring.ts'
import { hashPath, partitionOf } from './hash.ts'
import { writeRing } from './io.ts'

const dir = mkdtempSync(join(tmpdir(), 'cumulo-ring-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const dev = (id: number, region: number, zone: number, ip: string, device = 'sda'): Dev =>
  ({ id, region, zone, ip, port: 6200, device, weight: 1, meta: '' })

function smallRing(): RingData {
  // 16 partitions, 3 replicas, 8 devices, 2 regions, 4 zones (generated with the same formula
  // in the Python script that produced the expected handoffs below with Swift's own code).
  const devs = Array.from({ length: 8 }, (_, i) => dev(i, 1 + Math.floor(i / 4), 1 + Math.floor(i / 2), `10.0.0.${i + 1}`))
  const tables = [
    [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7],
    [1, 4, 7, 2, 5, 0, 3, 6, 1, 4, 7, 2, 5, 0, 3, 6],
    [4, 2, 6, 4, 0, 6, 2, 0, 4, 2, 6, 4, 0, 6, 2, 0],
  ].map((t) => Uint16Array.from(t))
  return { partPower: 4, devs, replica2part2dev: tables, version: 1 }
}

test('getMoreNodes yields exactly what Swift get_more_nodes yields (16 partitions)', () => {
  const ring = new Ring(smallRing())
  // Output of swift/common/ring/ring.py Ring.get_more_nodes run on the same ring.
  const swift: Record<number, number[]> = {
    0: [6, 3, 5, 2, 7], 1: [6, 5, 0, 3, 7], 2: [4, 0, 5, 3, 1], 3: [6, 0, 7, 1, 5], 4: [2, 7, 6, 3, 1],
    5: [3, 2, 7, 1, 4], 6: [1, 4, 7, 5, 0], 7: [4, 2, 1, 3, 5], 8: [6, 3, 5, 2, 7], 9: [6, 5, 0, 3, 7],
    10: [5, 0, 3, 1, 4], 11: [6, 0, 7, 1, 5], 12: [6, 3, 2, 7, 1], 13: [3, 4, 2, 7, 1], 14: [4, 0, 7, 5, 1],
    15: [4, 2, 1, 3, 5],
  }
  for (let p = 0; p < 16; p++) {
    const handoffs = [...ring.getMoreNodes(p)].map((d) => d.id)
    assert.deepEqual(handoffs, swift[p], `partition ${p}`)
    const primaries = ring.getPartNodes(p).map((d) => d.id)
    assert.equal(primaries.length, 3)
    assert.ok(handoffs.every((id) => !primaries.includes(id)), 'handoffs never repeat primaries')
    assert.equal(new Set(handoffs).size + primaries.length, 8, 'every device exactly once')
  }
})

test('getMoreNodes matches Swift with 2^17 partitions (stepped walk) and shared servers', () => {
  const devs = Array.from({ length: 12 }, (_, i) =>
    dev(i, 1 + Math.floor(i / 4), 1 + Math.floor(i / 2), `10.0.${Math.floor(i / 2)}.1`, `sd${i}`))
  const parts = 2 ** 17
  const tables = [new Uint16Array(parts), new Uint16Array(parts), new Uint16Array(parts)]
  for (let p = 0; p < parts; p++) {
    const a = p % 12
    let b = (p * 7 + 3) % 12
    while (b === a) b = (b + 1) % 12
    let c = (p * 11 + 5) % 12
    while (c === a || c === b) c = (c + 1) % 12
    tables[0][p] = a; tables[1][p] = b; tables[2][p] = c
  }
  const ring = new Ring({ partPower: 17, devs, replica2part2dev: tables, version: 1 })
  const swift: Record<number, number[]> = {
    0: [9, 7, 11, 2, 4, 1, 6, 8, 10], 1: [7, 9, 3, 6, 11, 8, 0, 5, 2], 77: [9, 6, 11, 8, 10, 1, 7, 3, 4],
    4096: [10, 9, 3, 6, 8, 11, 0, 2, 5], 65535: [10, 7, 5, 9, 1, 4, 6, 11, 8], 131071: [1, 9, 3, 6, 11, 8, 0, 5, 2],
  }
  for (const [p, want] of Object.entries(swift)) {
    assert.deepEqual([...ring.getMoreNodes(Number(p))].map((d) => d.id), want, `partition ${p}`)
  }
})

test('getNodes hashes the path and returns the partition primaries', () => {
  const ring = new Ring(smallRing())
  const cfg = { prefix: '', suffix: 'endcap' }
  const { partition, nodes } = ring.getNodes(cfg, 'a', 'c', 'o')
  assert.equal(partition, partitionOf(hashPath(cfg, 'a', 'c', 'o'), 4))
  assert.equal(partition, 0) // 06fbf0b5… >>> 28
  assert.deepEqual(nodes.map((d) => d.id), [0, 1, 4])
  assert.equal(ring.getPartition(cfg, 'a'), partitionOf('1c84525acb02107ea475dcd3d09c2c58', 4))
  assert.equal(ring.replicas, 3)
  assert.equal(ring.partitionCount, 16)
  assert.throws(() => ring.getPartNodes(16), RangeError)
  assert.throws(() => ring.getPartNodes(-1), RangeError)
  assert.throws(() => [...ring.getMoreNodes(1.5)], RangeError)
})

test('a device holding two replicas is listed once; fractional replica tables', () => {
  const data = smallRing()
  data.replica2part2dev[1][3] = 3 // partition 3 now on devices 3, 3, 4
  data.replica2part2dev[2] = data.replica2part2dev[2].slice(0, 8) // 2.5 replicas
  const ring = new Ring(data)
  assert.deepEqual(ring.getPartNodes(3).map((d) => d.id), [3, 4])
  assert.equal(ring.replicas, 2.5)
  assert.deepEqual(ring.getPartNodes(12).map((d) => d.id), [4, 5])
  assert.deepEqual(ring.getPartNodes(2).map((d) => d.id), [2, 7, 6])
})

test('invalid ring data is rejected', () => {
  const bad = smallRing()
  bad.replica2part2dev[0][5] = 9
  assert.throws(() => new Ring(bad), /missing device 9/)
  const short = smallRing()
  short.replica2part2dev[0] = short.replica2part2dev[0].slice(0, 10)
  assert.throws(() => new Ring(short), /10 entries for 16 partitions/)
  const removed = smallRing()
  removed.devs[2] = null
  assert.throws(() => new Ring(removed), /missing device 2/)
})

test('reloadIfChanged picks up a new ring file, at most once per reloadTime', async () => {
  const path = join(dir, 'object.ring.json.gz')
  await writeRing(smallRing(), path)
  const ring = await Ring.load(path, { reloadTime: 3600 })
  assert.equal(ring.version, 1)
  const next = smallRing()
  next.version = 2
  next.replica2part2dev = [next.replica2part2dev[1], next.replica2part2dev[2], next.replica2part2dev[0]]
  await writeRing(next, path)
  assert.equal(await ring.reloadIfChanged(), false, 'not checked again before reloadTime')
  assert.equal(ring.version, 1)
  assert.equal(await ring.reloadIfChanged(true), true)
  assert.equal(ring.version, 2)
  assert.deepEqual(ring.getPartNodes(0).map((d) => d.id), [1, 4, 0])
  assert.equal(await ring.reloadIfChanged(true), false, 'unchanged file is not re-read')

  // A broken file: the reload fails and the ring in memory stays usable.
  writeFileSync(path, 'garbage')
  utimesSync(path, new Date(), new Date(Date.now() + 5000))
  await assert.rejects(ring.reloadIfChanged(true), /not a gzip JSON ring/)
  assert.equal(ring.version, 2)
  assert.deepEqual(ring.getPartNodes(0).map((d) => d.id), [1, 4, 0])
})

test('lookups reload the ring in the background once reloadTime has passed', async () => {
  const path = join(dir, 'auto.ring.json.gz')
  await writeRing(smallRing(), path)
  const errors: Error[] = []
  const ring = Ring.loadSync(path, { reloadTime: 0, onReloadError: (e) => errors.push(e) })
  const next = smallRing()
  next.version = 7
  await writeRing(next, path)
  ring.getPartNodes(0) // kicks off the check
  for (let i = 0; i < 100 && ring.version !== 7; i++) await new Promise((r) => setTimeout(r, 5))
  assert.equal(ring.version, 7)
  assert.deepEqual(errors, [])
  const fixed = new Ring(smallRing(), { path, reloadTime: 0, autoReload: false })
  await writeRing(next, path)
  fixed.getPartNodes(0)
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(fixed.version, 1, 'autoReload: false never reloads by itself')
})
