// The dlo middleware end to end: the default pipeline on real storage servers (3 replicas).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { infoDocument } from './info.ts'
import { dloMiddleware } from './dlo.ts'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let A: string
const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex')
const PARTS = ['alpha-', 'beta-', 'gamma-', 'delta']
const WHOLE = PARTS.join('')
const ETAG = md5(PARTS.map((p) => md5(p)).join(''))

before(async () => {
  f = await swiftFixture()
  A = `/v1/${f.account}`
  await f.call('PUT', `${A}/d`)
  await f.call('PUT', `${A}/dsegs`)
  for (const [i, p] of PARTS.entries()) assert.equal((await f.call('PUT', `${A}/dsegs/big/${String(i).padStart(3, '0')}`, { body: p })).statusCode, 201)
  const put = await f.call('PUT', `${A}/d/big`, { body: '', headers: { 'content-length': '0', 'x-object-manifest': 'dsegs/big/', 'content-type': 'text/x-dlo', 'x-object-meta-k': 'v' } })
  assert.equal(put.statusCode, 201)
})
after(async () => { await f?.close() })

describe('DLO', () => {
  it('GET and HEAD concatenate the listed segments; ETag is the MD5 of their ETags', async () => {
    const get = await f.call('GET', `${A}/d/big`)
    assert.equal(get.statusCode, 200)
    assert.equal(get.body, WHOLE)
    assert.equal(get.headers.etag, `"${ETAG}"`)
    assert.equal(get.headers['content-length'], String(WHOLE.length))
    assert.equal(get.headers['x-object-manifest'], 'dsegs/big/')
    assert.equal(get.headers['content-type'], 'text/x-dlo')
    assert.equal(get.headers['x-object-meta-k'], 'v')
    assert.equal(get.headers['accept-ranges'], 'bytes')
    assert.match(String(get.headers['x-timestamp']), /^\d+\.\d+$/)
    const head = await f.call('HEAD', `${A}/d/big`)
    assert.equal(head.headers.etag, `"${ETAG}"`)
    assert.equal(head.headers['content-length'], String(WHOLE.length))
  })

  it('serves one range; several ranges get the whole object', async () => {
    const r = await f.call('GET', `${A}/d/big`, { headers: { range: 'bytes=4-8' } })
    assert.equal(r.statusCode, 206)
    assert.equal(r.body, 'a-bet')
    assert.equal(r.headers['content-range'], `bytes 4-8/${WHOLE.length}`)
    assert.equal((await f.call('GET', `${A}/d/big`, { headers: { range: 'bytes=-5' } })).body, 'delta')
    const multi = await f.call('GET', `${A}/d/big`, { headers: { range: 'bytes=0-1,3-4' } })
    assert.equal(multi.statusCode, 200)
    assert.equal(multi.body, WHOLE)
    assert.equal((await f.call('GET', `${A}/d/big`, { headers: { range: 'bytes=500-' } })).statusCode, 416)
  })

  it('answers conditionals against the DLO ETag, not the manifest\'s', async () => {
    assert.equal((await f.call('GET', `${A}/d/big`, { headers: { 'if-none-match': `"${ETAG}"` } })).statusCode, 304)
    const empty = md5('')
    const notManifest = await f.call('GET', `${A}/d/big`, { headers: { 'if-none-match': empty } })
    assert.equal(notManifest.statusCode, 200)
    assert.equal(notManifest.body, WHOLE)
    const im = await f.call('GET', `${A}/d/big`, { headers: { 'if-match': empty } })
    assert.equal(im.statusCode, 412)
    assert.equal(im.headers.etag, `"${ETAG}"`)
  })

  it('?multipart-manifest=get reads the manifest object itself', async () => {
    const m = await f.call('GET', `${A}/d/big?multipart-manifest=get`)
    assert.equal(m.statusCode, 200)
    assert.equal(m.body, '')
    assert.equal(m.headers.etag, md5(''))
    assert.equal(m.headers['x-object-manifest'], 'dsegs/big/')
  })

  it('POST sets X-Object-Manifest; a manifest under its own prefix reads its segments', async () => {
    for (const [i, p] of ['x', 'y'].entries()) await f.call('PUT', `${A}/d/self/${i}`, { body: p })
    await f.call('PUT', `${A}/d/self`, { body: '', headers: { 'content-length': '0' } })
    assert.equal((await f.call('GET', `${A}/d/self`)).body, '')
    assert.equal((await f.call('POST', `${A}/d/self`, { headers: { 'x-object-manifest': 'd/self' } })).statusCode, 202)
    const get = await f.call('GET', `${A}/d/self`)
    assert.equal(get.body, 'xy')
    assert.equal(get.headers['x-object-manifest'], 'd/self')
    assert.equal(get.headers.etag, `"${md5(md5('') + md5('x') + md5('y'))}"`)
  })

  it('rejects a malformed X-Object-Manifest on PUT', async () => {
    for (const v of ['nocontainer', 'c/', '/c/p', 'c/p?x', 'c//p']) {
      const r = await f.call('PUT', `${A}/d/bad`, { body: '', headers: { 'content-length': '0', 'x-object-manifest': v } })
      assert.equal(r.statusCode, 400, v)
      assert.equal(r.body, 'X-Object-Manifest must be in the format container/prefix')
    }
  })

  it('reads the listing and segments with the caller\'s rights; missing segments container is an empty object', async () => {
    const carol = await f.user('dlo-carol')
    await f.call('PUT', `${A}/dpub`, { headers: { 'x-container-read': '.r:*' } })
    await f.call('PUT', `${A}/dpub/m`, { body: '', headers: { 'content-length': '0', 'x-object-manifest': 'dsegs/big/' } })
    assert.equal((await f.call('GET', `${A}/dpub/m`, { token: carol.token })).statusCode, 403)
    await f.call('PUT', `${A}/dpub/none`, { body: '', headers: { 'content-length': '0', 'x-object-manifest': 'nowhere/x' } })
    assert.equal((await f.call('GET', `${A}/dpub/none`)).statusCode, 404)
    await f.call('PUT', `${A}/dpub/empty`, { body: '', headers: { 'content-length': '0', 'x-object-manifest': 'dsegs/nothing-here' } })
    const e = await f.call('GET', `${A}/dpub/empty`)
    assert.equal(e.statusCode, 200)
    assert.equal(e.body, '')
    assert.equal(e.headers.etag, `"${md5('')}"`)
  })

  it('copies a DLO whole, or its manifest with ?multipart-manifest=get', async () => {
    const c = await f.call('COPY', `${A}/d/big`, { headers: { destination: 'd/flat' } })
    assert.equal(c.statusCode, 201)
    const flat = await f.call('GET', `${A}/d/flat`)
    assert.equal(flat.body, WHOLE)
    assert.equal(flat.headers.etag, md5(WHOLE))
    assert.equal(flat.headers['x-object-manifest'], undefined)
    const m = await f.call('COPY', `${A}/d/big?multipart-manifest=get`, { headers: { destination: 'd/big2' } })
    assert.equal(m.statusCode, 201)
    const big2 = await f.call('GET', `${A}/d/big2`)
    assert.equal(big2.headers['x-object-manifest'], 'dsegs/big/')
    assert.equal(big2.body, WHOLE)
  })

  it('publishes max_get_time under /info "dlo"', () => {
    assert.deepEqual(infoDocument([], [dloMiddleware()]).dlo, { max_get_time: 86400 })
  })
})
