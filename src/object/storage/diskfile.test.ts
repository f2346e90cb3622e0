import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { Timestamp } from '../ring/timestamp.ts'
import { decodeHeader, encodeHeader } from './datafile.ts'
import { EtagMismatchError, FileObjectDisk, type ObjectLocation, ShortBodyError } from './diskfile.ts'
import { classifyFiles } from './ondisk.ts'
import { tempDevices } from './object-test-kit.ts'

const names = (fs: { filename: string }[]) => fs.map((f) => f.filename).sort()

describe('on-disk file sets (Swift get_ondisk_files)', () => {
  it('newest data wins; older files are obsolete', () => {
    const s = classifyFiles(['1.00000.data', '2.00000.data', '1.50000.ts', '3.00000.meta', '0.50000.meta', 'junk.tmp'])
    assert.equal(s.data?.filename, '2.00000.data')
    assert.equal(s.meta?.filename, '3.00000.meta')
    assert.equal(s.ts, undefined)
    assert.deepEqual(names(s.obsolete), ['0.50000.meta', '1.00000.data', '1.50000.ts'])
    assert.deepEqual(s.unexpected, ['junk.tmp'])
  })

  it('a newer tombstone hides the data', () => {
    const s = classifyFiles(['1.00000.data', '2.00000.ts', '1.50000.meta', '3.00000.meta'])
    assert.equal(s.data, undefined)
    assert.equal(s.ts?.filename, '2.00000.ts')
    assert.deepEqual(names(s.obsolete), ['1.00000.data', '1.50000.meta'])
    assert.deepEqual(names(s.possibleReclaim), ['3.00000.meta'])
  })

  it('keeps an older .meta that carries a newer Content-Type', () => {
    const s = classifyFiles(['1.00000.data', '3.00000.meta', '2.00000+186a0.meta'])
    assert.equal(s.meta?.filename, '3.00000.meta')
    assert.equal(s.ctype?.filename, '2.00000+186a0.meta')
    assert.equal(s.ctype?.ctypeTimestamp?.normal, '0000000003.00000')
    assert.deepEqual(s.obsolete, [])
  })
})

describe('data file header', () => {
  it('round-trips metadata and detects corruption', () => {
    const h = encodeHeader({ name: '/a/c/ö', 'X-Object-Meta-K': 'v' }, 200)
    assert.equal(h.length, 24 + 200)
    assert.deepEqual(decodeHeader(h).metadata, { name: '/a/c/ö', 'X-Object-Meta-K': 'v' })
    const bad = Buffer.from(h)
    bad[30] ^= 1
    assert.throws(() => decodeHeader(bad), /checksum/)
    assert.throws(() => decodeHeader(Buffer.from('nope')), /magic/)
  })
})

describe('FileObjectDisk', () => {
  let env: ReturnType<typeof tempDevices>
  let disk: FileObjectDisk
  const loc = (hash: string, partition = '9'): ObjectLocation => ({ device: 'sda', partition, policy: 0, hash })
  const H1 = createHash('md5').update('one').digest('hex')
  const H2 = createHash('md5').update('two').digest('hex')
  const base = Date.now() / 1000 - 1000
  const ts = (s: number) => new Timestamp(base + s)
  before(() => {
    env = tempDevices(['sda'])
    disk = new FileObjectDisk({ devicesRoot: env.root })
  })
  after(() => env.cleanup())

  it('writes, opens and lists objects', async () => {
    const t = ts(1)
    const w = await disk.writeData(loc(H1), { timestamp: t, metadata: { name: '/a/c/one', 'Content-Type': 'x/y' }, body: Readable.from([Buffer.from('abc')]), contentLength: 3 })
    assert.equal(w.etag, '900150983cd24fb0d6963f7d28e17f72')
    const r = await disk.open(loc(H1), { name: '/a/c/one' })
    assert.equal(r.status, 'ok')
    if (r.status !== 'ok') return
    assert.equal(r.object.size, 3)
    assert.equal(r.object.metadata['X-Timestamp'], t.internal)
    assert.equal(r.object.metadata['Content-Length'], '3')
    assert.deepEqual(r.object.inline, Buffer.from('abc'))
    await r.object.close()
    assert.equal((await disk.open(loc(H1), { name: '/a/c/other' })).status, 'collision')
    assert.deepEqual(await disk.listPartitions('sda', 0), ['9'])
    assert.deepEqual(await disk.listSuffixes('sda', 0, '9'), [H1.slice(-3)])
    assert.deepEqual(await disk.listHashes('sda', 0, '9', H1.slice(-3)), [H1])
    assert.deepEqual(await disk.listFiles(loc(H1)), [`${t.internal}.data`])
    assert.deepEqual(await disk.listDevices(), ['sda'])
  })

  it('handles metadata larger than the first read, with a large body', async () => {
    const H5 = createHash('md5').update('five').digest('hex')
    const body = Buffer.alloc(200_000, 7)
    const md = { name: '/a/c/five', 'X-Object-Sysmeta-Big': 'm'.repeat(100_000) }
    const w = await disk.writeData(loc(H5, '11'), { timestamp: ts(40), metadata: md, body: Readable.from([body.subarray(0, 70_000), body.subarray(70_000)]) })
    const r = await disk.open(loc(H5, '11'))
    assert.equal(r.status, 'ok')
    if (r.status !== 'ok') return
    assert.equal(r.object.metadata['X-Object-Sysmeta-Big'].length, 100_000)
    assert.equal(r.object.etag, w.etag)
    const chunks: Buffer[] = []
    for await (const c of r.object.read({ verify: true })) chunks.push(c as Buffer)
    await r.object.close()
    assert.ok(Buffer.concat(chunks).equals(body))
  })

  it('checks body length and ETag, leaving no temp file', async () => {
    await assert.rejects(disk.writeData(loc(H2), { timestamp: ts(2), metadata: { name: '/a/c/two' }, body: Readable.from([Buffer.from('ab')]), contentLength: 3 }), ShortBodyError)
    await assert.rejects(disk.writeData(loc(H2), { timestamp: ts(2), metadata: { name: '/a/c/two' }, body: Readable.from([Buffer.alloc(100_000)]), etag: 'abc' }), EtagMismatchError)
    assert.deepEqual(readdirSync(join(env.root, 'sda', 'tmp')), [])
    assert.equal((await disk.open(loc(H2))).status, 'missing')
  })

  it('tombstones, meta files, cleanup and reclaim', async () => {
    const t = ts(3)
    await disk.writeData(loc(H2), { timestamp: t, metadata: { name: '/a/c/two' }, body: Readable.from([Buffer.from('x')]) })
    await disk.writeMeta(loc(H2), ts(4), { name: '/a/c/two', 'X-Object-Meta-A': '1' })
    const o = await disk.open(loc(H2))
    assert.equal(o.status, 'ok')
    if (o.status === 'ok') {
      assert.equal(o.object.metadata['X-Object-Meta-A'], '1')
      assert.equal(o.object.timestamp.internal, ts(4).internal)
      await o.object.close()
    }
    await disk.writeTombstone(loc(H2), ts(5), { name: '/a/c/two' })
    assert.deepEqual(await disk.listFiles(loc(H2)), [`${ts(5).internal}.ts`])
    const d = await disk.open(loc(H2))
    assert.equal(d.status, 'deleted')
    // An old tombstone is reclaimed once past reclaim_age, and the empty dirs go with it.
    const later = new FileObjectDisk({ devicesRoot: env.root, reclaimAge: 1, now: () => Date.now() + 10_000_000 })
    assert.deepEqual(await later.listFiles(loc(H2)), [])
    assert.equal((await later.open(loc(H2))).status, 'missing')
  })

  it('keeps suffix hashes current through invalidations', async () => {
    const h0 = await disk.getHashes('sda', 0, '9')
    assert.deepEqual(Object.keys(h0), [H1.slice(-3)])
    const partDir = join(env.root, 'sda', 'objects', '9')
    assert.deepEqual(JSON.parse(readFileSync(join(partDir, 'hashes.json'), 'utf8')), h0)
    await disk.writeTombstone(loc(H1), ts(10), { name: '/a/c/one' })
    assert.match(readFileSync(join(partDir, 'hashes.invalid'), 'utf8'), new RegExp(H1.slice(-3)))
    const h1 = await disk.getHashes('sda', 0, '9')
    assert.notEqual(h1[H1.slice(-3)], h0[H1.slice(-3)])
    assert.equal(readFileSync(join(partDir, 'hashes.invalid'), 'utf8'), '')
    // The hash is Swift's: md5 of "<timestamp>.ts" for a lone tombstone.
    assert.equal(h1[H1.slice(-3)], createHash('md5').update(`${ts(10).internal}.ts`).digest('hex'))
    // A corrupt hashes.json is rebuilt from the directories.
    writeFileSync(join(partDir, 'hashes.json'), '{not json')
    assert.deepEqual(await disk.getHashes('sda', 0, '9'), h1)
    assert.deepEqual(await disk.getHashes('sda', 0, '404'), {})
  })

  it('quarantines a hash dir, renaming on collision', async () => {
    const H3 = createHash('md5').update('three').digest('hex')
    for (let i = 0; i < 2; i++) {
      await disk.writeData(loc(H3), { timestamp: ts(20 + i), metadata: { name: '/a/c/three' }, body: Readable.from([Buffer.from('q')]) })
      const to = await disk.quarantine(loc(H3), 'test')
      assert.ok(to && existsSync(to))
    }
    const q = readdirSync(join(env.root, 'sda', 'quarantined', 'objects'))
    assert.equal(q.length, 2)
    assert.ok(q.includes(H3))
    assert.equal(await disk.quarantine(loc(H3), 'gone already'), null)
  })

  it('quarantines a file with a corrupt header on open', async () => {
    const H4 = createHash('md5').update('four').digest('hex')
    const w = await disk.writeData(loc(H4), { timestamp: ts(30), metadata: { name: '/a/c/four' }, body: Readable.from([Buffer.from('z')]) })
    const f = join(env.root, 'sda', 'objects', '9', H4.slice(-3), H4, w.filename)
    const b = readFileSync(f)
    b[40] ^= 0x10
    writeFileSync(f, b)
    const r = await disk.open(loc(H4))
    assert.equal(r.status, 'quarantined')
    assert.ok(existsSync(join(env.root, 'sda', 'quarantined', 'objects', H4)))
  })

  it('reads single files and deletes objects and partitions', async () => {
    const H6 = createHash('md5').update('six').digest('hex')
    const t = ts(50)
    const name = await disk.writeTombstone(loc(H6, '12'), t, { name: '/a/c/six' })
    assert.deepEqual(await disk.readMetadata(loc(H6, '12'), name), { name: '/a/c/six', 'X-Timestamp': t.internal })
    await disk.deleteObject(loc(H6, '12'))
    assert.equal((await disk.open(loc(H6, '12'))).status, 'missing')
    await disk.writeTombstone(loc(H6, '12'), ts(51), { name: '/a/c/six' })
    await disk.deletePartition('sda', 0, '12')
    assert.equal((await disk.listPartitions('sda', 0)).includes('12'), false)
    assert.deepEqual(await disk.getHashes('sda', 0, '12'), {})
  })

  it('treats a device that is not a mount point as unavailable with mountCheck', async () => {
    const strict = new FileObjectDisk({ devicesRoot: env.root, mountCheck: true })
    assert.equal(await strict.devicePath('sda'), null)
    assert.equal(await disk.devicePath('nope'), null)
    assert.equal(await disk.devicePath('..'), null)
  })
})
