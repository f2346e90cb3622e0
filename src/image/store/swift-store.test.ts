import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { imageStoreConformance } from '../../../test/conformance/image-store.ts'
import { createCore } from '../../core/index.ts'
import { type IdentityHarness, identityHarness } from '../../identity/testing.ts'
import { type ObjectStore, createObjectStore } from '../../object/index.ts'
import { imageHarness } from '../testing.ts'
import { SwiftImageStore } from './swift-store.ts'

// The Swift store against the real object store (proxy and storage servers in-process,
// small rings), over HTTP with the admin's token, as glance_store's swift driver works.

describe('SwiftImageStore', () => {
  let h: IdentityHarness
  let objects: ObjectStore
  let dir: string
  let storageUrl = ''
  let renewals = 0
  before(async () => {
    h = await identityHarness()
    dir = mkdtempSync(join(tmpdir(), 'cumulo-swiftstore-'))
    const core = createCore({ database: 'sqlite::memory:', logLevel: 'silent' })
    objects = await createObjectStore(core, { auth: h.identity.auth, dataDir: dir, partPower: 4, daemons: false })
    await objects.api.listen({ host: '127.0.0.1', port: 0 })
    storageUrl = `http://127.0.0.1:${(objects.api.server.address() as AddressInfo).port}/v1/AUTH_${h.adminProjectId}`
  })
  after(async () => { await objects.close(); await h.close(); rmSync(dir, { recursive: true, force: true }) })

  const make = (container = 'glance') => new SwiftImageStore({
    storageUrl, container, token: async (renew) => { if (renew) renewals++; return h.adminToken },
  })

  describe('conformance', () => { imageStoreConformance(async () => make(`glance-${Math.random().toString(36).slice(2, 8)}`)) })

  test('one object per image in the container; only this container\'s objects are touched', async () => {
    const s = make('images-here')
    const put = await s.put('11111111-2222-3333-4444-555555555555', Readable.from([Buffer.from('in swift')]))
    assert.equal(put.location, `swift+${storageUrl}/images-here/11111111-2222-3333-4444-555555555555`)
    const listing = await fetch(`${storageUrl}/images-here`, { headers: { 'x-auth-token': h.adminToken } })
    assert.equal((await listing.text()).trim(), '11111111-2222-3333-4444-555555555555')
    await assert.rejects(make('other').get(put.location), /not found/)
  })

  test('a rejected token is renewed once for reads', async () => {
    let first = true
    const s = new SwiftImageStore({ storageUrl, container: 'renew', token: async (renew) => {
      if (renew) renewals++
      if (first && !renew) { first = false; return 'expired-token' }
      return h.adminToken
    } })
    first = false
    const { location } = await s.put('22222222-2222-3333-4444-555555555555', Readable.from([Buffer.from('x')]))
    first = true
    const before = renewals
    const body = await s.get(location)
    for await (const _ of body) { /* drain */ }
    assert.equal(renewals, before + 1)
  })

  test('objects larger than the cluster takes are refused before they are stored', async () => {
    const s = new SwiftImageStore({ storageUrl, container: 'small', maxObjectSize: 10, token: async () => h.adminToken })
    await assert.rejects(s.put('33333333-2222-3333-4444-555555555555', Readable.from([Buffer.alloc(11)])), /at most 10 bytes/)
  })

  test('the image API on the Swift store: upload, download, delete', async () => {
    const ih = await imageHarness({ store: () => make('api-images') })
    try {
      const img = (await ih.json('POST', '/v2/images', { body: { disk_format: 'raw', container_format: 'bare' } })).body
      const data = Buffer.from('image bytes kept in the object store')
      assert.equal((await ih.call('PUT', `/v2/images/${img.id}/file`, { payload: data })).statusCode, 204)
      const d = await ih.call('GET', `/v2/images/${img.id}/file`)
      assert.deepEqual(d.rawPayload, data)
      const ranged = await ih.call('GET', `/v2/images/${img.id}/file`, { headers: { range: 'bytes=6-10' } })
      assert.equal(ranged.body, 'bytes')
      assert.equal((await ih.call('DELETE', `/v2/images/${img.id}`)).statusCode, 204)
      const listing = await fetch(`${storageUrl}/api-images`, { headers: { 'x-auth-token': h.adminToken } })
      assert.equal((await listing.text()).trim(), '')
    } finally { await ih.close() }
  })
})
