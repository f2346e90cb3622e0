import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'
import { legacySysmeta } from './versioned-writes.ts'

let f: SwiftFixture
let base: string
before(async () => {
  f = await swiftFixture()
  base = `/v1/${f.account}`
})
after(async () => { await f.close() })

const json = (body: string) => JSON.parse(body) as Array<Record<string, unknown>>
async function listing(c: string, query = '') {
  const r = await f.call('GET', `${base}/${c}?format=json${query}`)
  return r.statusCode === 204 ? [] : json(r.body)
}

describe('legacySysmeta', () => {
  it('maps the client headers to sysmeta as Swift does', () => {
    assert.deepEqual(legacySysmeta({ 'x-versions-location': 'v' }),
      { 'x-container-sysmeta-versions-location': 'v', 'x-container-sysmeta-versions-mode': 'stack' })
    assert.deepEqual(legacySysmeta({ 'x-history-location': 'v' }),
      { 'x-container-sysmeta-versions-location': 'v', 'x-container-sysmeta-versions-mode': 'history' })
    assert.deepEqual(legacySysmeta({ 'x-versions-location': 'v', 'x-history-location': '' }),
      { 'x-container-sysmeta-versions-location': 'v', 'x-container-sysmeta-versions-mode': 'stack' })
    assert.deepEqual(legacySysmeta({ 'x-versions-location': '' }),
      { 'x-container-sysmeta-versions-location': '', 'x-container-sysmeta-versions-mode': '' })
    assert.deepEqual(legacySysmeta({ 'x-remove-history-location': 'x' }),
      { 'x-container-sysmeta-versions-location': '', 'x-container-sysmeta-versions-mode': '' })
    assert.equal(legacySysmeta({ 'x-remove-versions-location': '' }), undefined)
    assert.equal(legacySysmeta({ 'x-container-meta-a': 'b' }), undefined)
  })
})

describe('X-Versions-Location (stack mode)', () => {
  it('archives on overwrite and pops on delete', async () => {
    assert.equal((await f.call('PUT', `${base}/arch`)).statusCode, 201)
    assert.equal((await f.call('PUT', `${base}/stack`, { headers: { 'x-versions-location': 'arch' } })).statusCode, 201)
    const head = await f.call('HEAD', `${base}/stack`)
    assert.equal(head.headers['x-versions-location'], 'arch')
    assert.equal(head.headers['x-history-location'], undefined)

    await f.call('PUT', `${base}/stack/obj`, { body: 'one', headers: { 'x-object-meta-n': '1', 'content-type': 'text/one' } })
    await f.call('PUT', `${base}/stack/obj`, { body: 'two', headers: { 'x-object-meta-n': '2' } })
    await f.call('PUT', `${base}/stack/obj`, { body: 'three' })
    assert.equal((await f.call('GET', `${base}/stack/obj`)).body, 'three')
    const arch = await listing('arch')
    assert.equal(arch.length, 2)
    for (const row of arch) assert.match(String(row.name), /^003obj\/\d{10}\.\d{5}$/)
    const first = await f.call('GET', `${base}/arch/${arch[0]!.name}`)
    assert.equal(first.body, 'one')
    assert.equal(first.headers['x-object-meta-n'], '1')
    assert.equal(first.headers['content-type'], 'text/one')

    assert.equal((await f.call('DELETE', `${base}/stack/obj`)).statusCode, 204)
    const two = await f.call('GET', `${base}/stack/obj`)
    assert.equal(two.body, 'two')
    assert.equal(two.headers['x-object-meta-n'], '2')
    assert.equal((await listing('arch')).length, 1)
    await f.call('DELETE', `${base}/stack/obj`)
    const one = await f.call('GET', `${base}/stack/obj`)
    assert.equal(one.body, 'one')
    assert.equal(one.headers['content-type'], 'text/one')
    assert.equal((await listing('arch')).length, 0)
    assert.equal((await f.call('DELETE', `${base}/stack/obj`)).statusCode, 204)
    assert.equal((await f.call('GET', `${base}/stack/obj`)).statusCode, 404)
    assert.equal((await f.call('DELETE', `${base}/stack/obj`)).statusCode, 404)
    const counts = await f.call('HEAD', `${base}/stack`)
    assert.equal(counts.headers['x-container-object-count'], '0')
  })

  it('names archives by the UTF-8 length of the name, and archives copy destinations', async () => {
    await f.call('PUT', `${base}/arch2`)
    await f.call('PUT', `${base}/cpy`, { headers: { 'x-versions-location': 'arch2' } })
    await f.call('PUT', `${base}/cpy/%C3%A9t%C3%A9`, { body: 'a' })
    await f.call('PUT', `${base}/cpy/src`, { body: 'b' })
    const c = await f.call('PUT', `${base}/cpy/%C3%A9t%C3%A9`, { headers: { 'x-copy-from': 'cpy/src', 'content-length': '0' } })
    assert.equal(c.statusCode, 201)
    const arch = await listing('arch2')
    assert.equal(arch.length, 1)
    assert.ok(String(arch[0]!.name).startsWith('005été/'))
    assert.equal((await f.call('GET', `${base}/cpy/%C3%A9t%C3%A9`)).body, 'b')
  })

  it('answers 412 when the archive container is missing, and 400 for both headers', async () => {
    await f.call('PUT', `${base}/orphan`, { headers: { 'x-versions-location': 'nowhere' } })
    assert.equal((await f.call('PUT', `${base}/orphan/o`, { body: 'x' })).statusCode, 201) // nothing to archive yet
    assert.equal((await f.call('PUT', `${base}/orphan/o`, { body: 'y' })).statusCode, 412)
    assert.equal((await f.call('GET', `${base}/orphan/o`)).body, 'x')
    const both = await f.call('POST', `${base}/orphan`, { headers: { 'x-versions-location': 'a', 'x-history-location': 'b' } })
    assert.equal(both.statusCode, 400)
    assert.match(both.body, /Only one of/)
    assert.equal((await f.call('POST', `${base}/orphan`, { headers: { 'x-versions-location': 'a/b' } })).statusCode, 412)
  })

  it('removes the flag', async () => {
    await f.call('PUT', `${base}/rm`, { headers: { 'x-versions-location': 'arch' } })
    assert.equal((await f.call('POST', `${base}/rm`, { headers: { 'x-remove-versions-location': 'x' } })).statusCode, 204)
    const h = await f.call('HEAD', `${base}/rm`)
    assert.equal(h.headers['x-versions-location'], undefined)
  })

  it('refuses a caller who cannot write the container before archiving anything', async () => {
    const other = await f.user('vw-other')
    await f.call('PUT', `${base}/guarded`, { headers: { 'x-versions-location': 'arch', 'x-container-read': `${other.projectId}:*` } })
    await f.call('PUT', `${base}/guarded/o`, { body: 'mine' })
    await f.call('PUT', `${base}/guarded/o`, { body: 'mine2' })
    const before = (await listing('arch', '&prefix=001o/')).length
    assert.equal((await f.call('DELETE', `${base}/guarded/o`, { token: other.token })).statusCode, 403)
    assert.equal((await f.call('PUT', `${base}/guarded/o`, { token: other.token, body: 'theirs' })).statusCode, 403)
    assert.equal((await listing('arch', '&prefix=001o/')).length, before)
    assert.equal((await f.call('GET', `${base}/guarded/o`)).body, 'mine2')
  })
})

describe('X-History-Location (history mode)', () => {
  it('archives and leaves a delete marker on delete', async () => {
    await f.call('PUT', `${base}/hist-arch`)
    await f.call('PUT', `${base}/hist`, { headers: { 'x-history-location': 'hist-arch' } })
    const head = await f.call('HEAD', `${base}/hist`)
    assert.equal(head.headers['x-history-location'], 'hist-arch')
    assert.equal(head.headers['x-versions-location'], undefined)
    await f.call('PUT', `${base}/hist/o`, { body: 'v1' })
    await f.call('PUT', `${base}/hist/o`, { body: 'v2' })
    assert.equal((await f.call('DELETE', `${base}/hist/o`)).statusCode, 204)
    assert.equal((await f.call('GET', `${base}/hist/o`)).statusCode, 404)
    const arch = await listing('hist-arch')
    assert.deepEqual(arch.map((r) => r.content_type), ['application/octet-stream', 'application/octet-stream',
      'application/x-deleted;swift_versions_deleted=1'])
    assert.equal((await f.call('GET', `${base}/hist-arch/${arch[1]!.name}`)).body, 'v2')
  })

  it('stack mode restores past delete markers left by history mode', async () => {
    await f.call('PUT', `${base}/mix-arch`)
    await f.call('PUT', `${base}/mix`, { headers: { 'x-history-location': 'mix-arch' } })
    await f.call('PUT', `${base}/mix/o`, { body: 'v1' })
    await f.call('DELETE', `${base}/mix/o`) // v1 archived + marker
    await f.call('POST', `${base}/mix`, { headers: { 'x-versions-location': 'mix-arch' } })
    assert.equal((await f.call('HEAD', `${base}/mix`)).headers['x-versions-location'], 'mix-arch')
    assert.equal((await f.call('DELETE', `${base}/mix/o`)).statusCode, 204) // pops the marker, restores v1
    assert.equal((await f.call('GET', `${base}/mix/o`)).body, 'v1')
    assert.equal((await listing('mix-arch')).length, 0)
  })
})
