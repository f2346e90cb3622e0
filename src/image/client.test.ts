import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { text } from 'node:stream/consumers'
import { after, before, describe, test } from 'node:test'
import { ImageClient } from './client.ts'
import { type ImageHarness, imageHarness } from './testing.ts'

describe('ImageClient', () => {
  let h: ImageHarness
  let client: ImageClient
  before(async () => {
    h = await imageHarness()
    await h.image.api.listen({ host: '127.0.0.1', port: 0 })
    const port = (h.image.api.server.address() as AddressInfo).port
    client = new ImageClient({ url: `http://127.0.0.1:${port}/`, token: async () => h.identity.adminToken })
  })
  after(async () => { await h.close() })

  test('show, list, download; errors are CloudErrors with Glance\'s message', async () => {
    const img = (await h.json('POST', '/v2/images', { body: { name: 'for-compute', disk_format: 'qcow2', container_format: 'bare', hw_disk_bus: 'virtio' } })).body
    assert.equal(await client.download(img.id), null)
    await h.call('PUT', `/v2/images/${img.id}/file`, { payload: Buffer.from('qcow2 bytes') })
    const shown = await client.show(img.id)
    assert.equal(shown.status, 'active')
    assert.equal(shown.hw_disk_bus, 'virtio')
    assert.ok((await client.list({ name: 'for-compute' })).some((i) => i.id === img.id))
    const d = await client.download(img.id)
    assert.equal(d!.size, 11)
    assert.equal(await text(d!.body), 'qcow2 bytes')
    await assert.rejects(client.show('00000000-0000-0000-0000-000000000000'), { status: 404, message: /No image found/ })
  })
})
