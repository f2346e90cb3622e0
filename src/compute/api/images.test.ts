import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ComputeHarness, computeHarness } from '../testing.ts'

describe('image proxy (before 2.36)', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  let other: { projectId: string; userId: string; token: string }
  let mine: string
  let pub: string
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
    other = await h.projectUser('member')
    mine = await h.makeImage({ name: 'mine', token: member.token, visibility: 'private', minRam: 64 })
    pub = await h.makeImage({ name: 'pub', visibility: 'public' })
  })
  after(async () => { await h.close() })
  const req = (method: string, url: string, o: { token?: string; body?: unknown; version?: string } = {}) =>
    h.json(method, url, { token: o.token ?? member.token, body: o.body, version: o.version })

  it('lists and shows the images Glance lets the caller see, in Nova\'s shape, with filters and paging', async () => {
    let r = await req('GET', '/v2.1/images')
    assert.equal(r.status, 200)
    const ids = r.body.images.map((i: any) => i.id)
    assert.ok(ids.includes(mine) && ids.includes(pub))
    assert.deepEqual(Object.keys(r.body.images[0]).sort(), ['id', 'links', 'name'])
    r = await req('GET', '/v2.1/images', { token: other.token })
    assert.ok(!r.body.images.some((i: any) => i.id === mine), 'another project does not see a private image')
    r = await req('GET', `/v2.1/images/${mine}`)
    assert.equal(r.status, 200)
    const img = r.body.image
    assert.equal(img.name, 'mine')
    assert.equal(img.status, 'ACTIVE')
    assert.equal(img.progress, 100)
    assert.equal(img.minRam, 64)
    assert.match(img.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    assert.equal((await req('GET', `/v2.1/images/${mine}`, { token: other.token })).status, 404)
    r = await req('GET', '/v2.1/images/detail?name=pub')
    assert.deepEqual(r.body.images.map((i: any) => i.id), [pub])
    r = await req('GET', '/v2.1/images?limit=1')
    assert.equal(r.body.images.length, 1)
    assert.match(r.body.images_links[0].href, /marker=/)
    r = await req('GET', `/v2.1/images?limit=1&marker=${r.body.images[0].id}`)
    assert.equal(r.body.images.length, 1)
    assert.equal((await req('GET', '/v2.1/images', { version: '2.36' })).status, 404)
  })

  it('image metadata: set, update, replace, item show/set/delete; bad bodies 400', async () => {
    let r = await req('POST', `/v2.1/images/${mine}/metadata`, { body: { metadata: { a: '1', b: '2' } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.metadata.a, '1')
    r = await req('PUT', `/v2.1/images/${mine}/metadata`, { body: { metadata: { c: '3' } } })
    assert.equal(r.status, 200)
    assert.equal(r.body.metadata.c, '3')
    assert.equal(r.body.metadata.a, undefined)
    r = await req('GET', `/v2.1/images/${mine}/metadata/c`)
    assert.deepEqual(r.body, { meta: { c: '3' } })
    r = await req('PUT', `/v2.1/images/${mine}/metadata/d`, { body: { meta: { d: '4' } } })
    assert.deepEqual(r.body, { meta: { d: '4' } })
    assert.equal((await req('PUT', `/v2.1/images/${mine}/metadata/d`, { body: { meta: { e: '4' } } })).status, 400)
    assert.equal((await req('PUT', `/v2.1/images/${mine}/metadata/d`, { body: { meta: { d: '4', e: '5' } } })).status, 400)
    assert.equal((await req('DELETE', `/v2.1/images/${mine}/metadata/d`)).status, 204)
    assert.equal((await req('GET', `/v2.1/images/${mine}/metadata/d`)).status, 404)
    assert.equal((await req('DELETE', `/v2.1/images/${mine}/metadata/nope`)).status, 404)
    r = await req('GET', `/v2.1/images/${mine}/metadata`)
    assert.deepEqual(r.body, { metadata: { c: '3' } })
    assert.equal((await req('POST', `/v2.1/images/${mine}/metadata`, { body: { meta: {} } })).status, 400)
  })

  it('deletes through Glance as the caller', async () => {
    assert.equal((await req('DELETE', `/v2.1/images/${mine}`, { token: other.token })).status, 404)
    assert.equal((await req('DELETE', `/v2.1/images/${mine}`)).status, 204)
    assert.equal((await req('GET', `/v2.1/images/${mine}`)).status, 404)
  })
})
