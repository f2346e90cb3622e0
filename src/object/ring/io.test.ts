import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { RingBuilder } from './builder.ts'
import { loadBuilder, loadRing, loadRingSync, ringPathFor, saveBuilder, writeRing } from './io.ts'

const dir = mkdtempSync(join(tmpdir(), 'cumulo-ringio-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function sample(): RingBuilder {
  const b = RingBuilder.create(8, 3, 1)
  for (let i = 0; i < 5; i++) b.addDev({ region: 1, zone: i + 1, ip: `10.0.0.${i + 1}`, port: 6200 + i, device: 'sdb', weight: 100, meta: `m${i}` })
  b.addDev({ region: 1, zone: 1, ip: 'fe80::1', port: 6300, device: 'sdc', weight: 0 })
  b.rebalance({ seed: 1 })
  return b
}

test('builder round-trips through JSON on disk', async () => {
  const b = sample()
  b.removeDev(4)
  const path = join(dir, 'object.builder.json')
  await saveBuilder(b, path)
  const c = await loadBuilder(path)
  assert.deepEqual(c.toJSON(), b.toJSON())
  assert.deepEqual(c.pendingRemoval, [4])
  assert.deepEqual(readdirSync(dir), ['object.builder.json'], 'no temp files left')
  // Same seed, same state → same rebalance.
  assert.deepEqual(c.rebalance({ seed: 2, now: 0 }), b.rebalance({ seed: 2, now: 0 }))
  assert.deepEqual(c.getTables(), b.getTables())
})

test('ring round-trips through the gzip JSON file', async () => {
  const b = sample()
  const path = join(dir, 'object.ring.json.gz')
  await writeRing(b.getRingData(), path)
  const doc = JSON.parse(gunzipSync(readFileSync(path)).toString())
  assert.equal(doc.format, 'cumulo-ring')
  assert.equal(doc.partPower, 8)
  const ring = await loadRing(path)
  const mem = b.getRing()
  assert.deepEqual(ring.devs, mem.devs)
  assert.deepEqual(ring.replica2part2dev, mem.replica2part2dev)
  assert.equal(ring.version, b.version)
  for (let p = 0; p < 256; p += 17) {
    assert.deepEqual(ring.getPartNodes(p), mem.getPartNodes(p))
    assert.deepEqual([...ring.getMoreNodes(p)], [...mem.getMoreNodes(p)])
  }
  // Writing a Ring object gives the same file content.
  const again = join(dir, 'again.ring.json.gz')
  await writeRing(ring, again)
  assert.deepEqual(loadRingSync(again).replica2part2dev, ring.replica2part2dev)
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0)
})

test('corrupt or foreign files are rejected with the path in the message', async () => {
  const bad = join(dir, 'bad.ring.json.gz')
  writeFileSync(bad, 'not gzip')
  await assert.rejects(loadRing(bad), /bad\.ring\.json\.gz: not a gzip JSON ring/)
  const badBuilder = join(dir, 'bad.builder.json')
  writeFileSync(badBuilder, '{"format":"cumulo-ring-builder","formatVersion":1,"partPower":4,"replicas":3,' +
    '"minPartHours":1,"devs":[],"pendingRemoval":[],"replica2part2dev":["AAAAAA=="],"lastPartMoves":""}')
  await assert.rejects(loadBuilder(badBuilder), /do not match/)
  writeFileSync(badBuilder, '{')
  await assert.rejects(loadBuilder(badBuilder), /not valid JSON/)
  await assert.rejects(loadBuilder(join(dir, 'missing.builder.json')), /ENOENT/)
})

test('ringPathFor names the ring after the builder', () => {
  assert.equal(ringPathFor('/etc/cumulo/object.builder.json'), '/etc/cumulo/object.ring.json.gz')
  assert.equal(ringPathFor('object-1.builder.json'), 'object-1.ring.json.gz')
  assert.equal(ringPathFor('account.builder'), 'account.ring.json.gz')
  assert.equal(ringPathFor('x.json'), 'x.ring.json.gz')
})
