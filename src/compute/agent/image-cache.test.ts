import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GlanceClient } from '../clients/glance.ts'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { ImageCache, ImageUnacceptable } from './image-cache.ts'

describe('image cache', () => {
  let h: ComputeHarness
  let dir: string
  before(async () => { h = await computeHarness(); dir = mkdtempSync(join(tmpdir(), 'cic-')) })
  after(async () => { await h.close(); rmSync(dir, { recursive: true, force: true }) })

  const data = Buffer.from('bytes of a base image '.repeat(1000))
  const md5 = createHash('md5').update(data).digest('hex')

  test('concurrent spawns share one verified download; later ones hit the cache', async () => {
    const id = await h.makeImage({ data })
    let renewals = 0
    // The first token is stale: the cache must renew it once and go on.
    const token = async (o: { renew?: boolean } = {}) => { if (o.renew) { renewals++; return h.identity.adminToken } return renewals ? h.identity.adminToken : 'stale' }
    const cache = new ImageCache(join(dir, 'a'), new GlanceClient(h.imageUrl), token)
    const info = { id, disk_format: 'qcow2', checksum: md5, size: data.length }
    const refs = await Promise.all([cache.ensure(info), cache.ensure(info), cache.ensure(info)])
    assert.equal(cache.downloads, 1)
    assert.equal(renewals, 1)
    for (const r of refs) assert.deepEqual(r, { path: join(dir, 'a', `${id}.qcow2`), format: 'qcow2' })
    assert.deepEqual(readFileSync(refs[0]!.path), data)
    await cache.ensure(info)
    assert.equal(cache.downloads, 1)
    assert.deepEqual(readdirSync(join(dir, 'a')), [`${id}.qcow2`])
  })

  test('a checksum or size mismatch leaves nothing behind; bad formats are refused', async () => {
    const id = await h.makeImage({ data })
    const cache = new ImageCache(join(dir, 'b'), new GlanceClient(h.imageUrl), async () => h.identity.adminToken)
    await assert.rejects(cache.ensure({ id, disk_format: 'raw', checksum: 'f'.repeat(32), size: data.length }), /failed verification: its MD5 is/)
    await assert.rejects(cache.ensure({ id, disk_format: 'raw', checksum: md5, size: 3 }), /bytes downloaded, Glance says 3/)
    assert.deepEqual(readdirSync(join(dir, 'b')), [])
    await assert.rejects(cache.ensure({ id, disk_format: 'vmdk', checksum: md5, size: data.length }),
      (e) => e instanceof ImageUnacceptable && /disk format vmdk is not supported/.test(e.message))
    // After the failures a good download still works.
    const ref = await cache.ensure({ id, disk_format: 'raw', checksum: md5, size: data.length })
    assert.equal(ref.format, 'raw')
  })

  test('an image Glance does not have is an error', async () => {
    const cache = new ImageCache(join(dir, 'c'), new GlanceClient(h.imageUrl), async () => h.identity.adminToken)
    await assert.rejects(cache.ensure({ id: '00000000-0000-0000-0000-000000000000', disk_format: 'qcow2', checksum: null, size: null }), /404/)
  })
})
