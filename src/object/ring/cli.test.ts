import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ringCommand, parseDevSpec } from './cli.ts'
import { loadBuilder, loadRing } from './io.ts'
import { hashPath, loadOrCreateHashConfig } from './hash.ts'

const dir = mkdtempSync(join(tmpdir(), 'cumulo-ringcli-'))
after(() => rmSync(dir, { recursive: true, force: true }))

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await ringCommand(args, { out: (s) => out.push(s), err: (s) => err.push(s) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

test('create, add, rebalance, show, get-nodes, remove, set-weight end to end', async () => {
  const builder = join(dir, 'object.builder.json')
  const ring = join(dir, 'object.ring.json.gz')
  let r = await run('create', builder, '8', '3', '1')
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /256 partitions, 3 replicas/)
  assert.equal((await run('create', builder, '8', '3', '1')).code, 2, 'never overwrites a builder')

  r = await run('add', builder, 'r1z1-127.0.0.1:6010/sdb1', '100', 'r1z2-127.0.0.1:6020/sdb2', '100',
    'z3-127.0.0.1:6030/sdb3_ssd slot 3', '100')
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /got id 2/)
  const b = await loadBuilder(builder)
  assert.deepEqual(b.devs[2], { id: 2, region: 1, zone: 3, ip: '127.0.0.1', port: 6030, device: 'sdb3', weight: 100, meta: 'ssd slot 3' })

  r = await run('add', builder, 'r1z1-127.0.0.1:6010/sdb1', '100')
  assert.equal(r.code, 2)
  assert.match(r.err, /Device 0 already uses 127.0.0.1:6010\/sdb1/)

  r = await run('show', builder)
  assert.equal(r.code, 0)
  assert.match(r.out, /not been rebalanced/)
  assert.match(r.out, /Ring file .* not found/)

  r = await run('rebalance', builder, '--seed', '1')
  assert.equal(r.code, 0, r.out + r.err)
  assert.match(r.out, /Reassigned 768 \(100.00%\) partition replicas\. Balance is now 0\.00\.  Dispersion is now 0\.00/)
  assert.ok(existsSync(ring))
  assert.equal(readdirSync(join(dir, 'backups')).length, 2)

  r = await run('show', builder)
  assert.match(r.out, /256 partitions, 3\.000000 replicas, 1 regions, 3 zones, 3 devices, 0\.00 balance, 0\.00 dispersion/)
  assert.match(r.out, /is up-to-date/)
  assert.match(r.out, /127\.0\.0\.1:6030\s+sdb3\s+100\.00\s+256\s+0\.00\s+ssd slot 3/)
  r = await run('show', ring)
  assert.equal(r.code, 0)
  assert.match(r.out, /256 partitions, 3\.000000 replicas/)

  // Nothing to do: Swift's warning exit and no rewrite.
  r = await run('rebalance', builder)
  assert.equal(r.code, 1)
  assert.match(r.out, /No partitions could be reassigned/)

  const hashDir = join(dir, 'node')
  const cfg = loadOrCreateHashConfig(hashDir)
  r = await run('get-nodes', ring, join(hashDir, 'hash.json'), 'AUTH_test', 'photos', 'cat.jpg')
  assert.equal(r.code, 0, r.err)
  const loaded = await loadRing(ring)
  const { partition } = loaded.getNodes(cfg, 'AUTH_test', 'photos', 'cat.jpg')
  assert.match(r.out, new RegExp(`Partition  ${partition}\\b`))
  assert.match(r.out, new RegExp(`Hash       ${hashPath(cfg, 'AUTH_test', 'photos', 'cat.jpg')}`))
  assert.equal((r.out.match(/127\.0\.0\.1:60\d0/g) ?? []).length, 3)
  assert.equal((await run('get-nodes', ring, hashDir, 'AUTH_test')).code, 0, 'a directory holding hash.json works too')

  // Add a device, pretend time passed, rebalance: a quarter of the replicas move.
  await run('add', builder, 'r1z4-127.0.0.1:6040/sdb4', '100')
  r = await run('rebalance', builder, '--seed', '2')
  assert.equal(r.code, 1, 'within min_part_hours nothing can move')
  assert.match(r.out, /min_part_hours/)
  assert.equal((await run('pretend-min-part-hours-passed', builder)).code, 0)
  r = await run('rebalance', builder, '--seed', '2')
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /Reassigned 192 /)
  r = await run('get-nodes', ring, hashDir, 'AUTH_test', 'photos', 'cat.jpg')
  assert.match(r.out, /\[Handoff\]/)

  assert.equal((await run('set-weight', builder, '3', '50')).code, 0)
  assert.equal((await run('remove', builder, 'd0')).code, 0)
  r = await run('show', builder)
  assert.match(r.out, /DEL/)
  r = await run('rebalance', builder, '--seed', '3')
  assert.ok(r.code <= 1, r.out)
  const after2 = await loadRing(ring)
  assert.equal(after2.devs[0], null)
  assert.equal(after2.devs[3]!.weight, 50)
  assert.equal((await run('set-min-part-hours', builder, '0')).code, 0)
  assert.equal((await loadBuilder(builder)).minPartHours, 0)
  assert.equal((await run('write', builder)).code, 0)
})

test('usage errors exit 2 with a message', async () => {
  const builder = join(dir, 'u.builder.json')
  for (const args of [[], ['bogus'], ['create', builder, '8', '3'], ['create', builder, 'x', '3', '1'],
    ['create', builder, '25', '3', '1'], ['add', builder], ['rebalance'], ['show'], ['get-nodes', 'a'],
    ['rebalance', builder, '--seed']]) {
    const r = await run(...args)
    assert.equal(r.code, 2, args.join(' '))
    assert.match(r.err, /cumulo ring: /)
  }
  await run('create', builder, '4', '1', '0')
  let r = await run('add', builder, 'r1z1-127.0.0.1/sdb', '1')
  assert.equal(r.code, 2)
  assert.match(r.err, /bad device/)
  r = await run('add', builder, 'r1z1-127.0.0.1:6000/sdb', 'heavy')
  assert.equal(r.code, 2)
  assert.match(r.err, /weight/)
  r = await run('remove', builder, '7')
  assert.equal(r.code, 2)
  assert.match(r.err, /no device with id 7/)
  r = await run('rebalance', builder)
  assert.equal(r.code, 2)
  assert.match(r.err, /no devices with weight/)
  r = await run('show', join(dir, 'nope.builder.json'))
  assert.equal(r.code, 2)
  assert.equal((await run('help')).code, 0)
})

test('device notation', () => {
  assert.deepEqual(parseDevSpec('r2z3-10.1.2.3:6200/sdb1_rack 4'),
    { region: 2, zone: 3, ip: '10.1.2.3', port: 6200, device: 'sdb1', meta: 'rack 4' })
  assert.deepEqual(parseDevSpec('r1z1-[fe80::1]:6200/sdc'),
    { region: 1, zone: 1, ip: 'fe80::1', port: 6200, device: 'sdc', meta: '' })
  assert.equal(parseDevSpec('z5-node1.example:6200/d').region, 1)
  assert.throws(() => parseDevSpec('r1z1-10.0.0.1:99999/sdb'), /port/)
  assert.throws(() => parseDevSpec('r1-10.0.0.1:6200/sdb'), /bad device/)
})
