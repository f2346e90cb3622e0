// The copy middleware end to end (the basics are also in swift-api.test.ts): sources read
// through the pipeline, large objects copied whole or as manifests, sysmeta carried over.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let A: string
const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex')

before(async () => {
  f = await swiftFixture()
  A = `/v1/${f.account}`
  for (const c of ['src', 'dst', 'parts']) await f.call('PUT', `${A}/${c}`)
  await f.call('PUT', `${A}/parts/1`, { body: 'hello ' })
  await f.call('PUT', `${A}/parts/2`, { body: 'world' })
  const m = await f.call('PUT', `${A}/src/slo?multipart-manifest=put`, {
    body: JSON.stringify([{ path: '/parts/1' }, { path: '/parts/2' }]), headers: { 'content-type': 'text/plain', 'x-object-meta-who': 'slo' },
  })
  assert.equal(m.statusCode, 201)
})
after(async () => { await f?.close() })

describe('copy middleware', () => {
  it('copies an SLO as one whole object, with the manifest\'s metadata', async () => {
    const c = await f.call('COPY', `${A}/src/slo`, { headers: { destination: '/dst/flat' } })
    assert.equal(c.statusCode, 201)
    assert.equal(c.headers['x-copied-from'], 'src/slo')
    assert.equal(c.headers['x-object-meta-who'], 'slo')
    const g = await f.call('GET', `${A}/dst/flat`)
    assert.equal(g.body, 'hello world')
    assert.equal(g.headers.etag, md5('hello world'))
    assert.equal(g.headers['x-static-large-object'], undefined)
    assert.equal(g.headers['content-type'], 'text/plain')
    const rows = JSON.parse((await f.call('GET', `${A}/dst?format=json&prefix=flat`)).body)
    assert.deepEqual([rows[0].bytes, rows[0].hash, rows[0].slo_etag], [11, md5('hello world'), undefined])
  })

  it('with ?multipart-manifest=get copies the manifest, which stays an SLO', async () => {
    const c = await f.call('PUT', `${A}/dst/man?multipart-manifest=get`, { headers: { 'x-copy-from': 'src/slo', 'content-length': '0' } })
    assert.equal(c.statusCode, 201)
    const h = await f.call('HEAD', `${A}/dst/man`)
    assert.equal(h.headers['x-static-large-object'], 'True')
    assert.equal(h.headers['content-length'], '11')
    assert.equal(h.headers['x-object-meta-who'], 'slo')
    assert.equal(h.headers.etag, `"${md5(md5('hello ') + md5('world'))}"`)
    assert.equal((await f.call('GET', `${A}/dst/man`)).body, 'hello world')
  })

  it('copies a range of a large object, and keeps sysmeta of the source', async () => {
    const r = await f.call('PUT', `${A}/dst/part`, { headers: { 'x-copy-from': 'src/slo', range: 'bytes=3-7', 'content-length': '0' } })
    assert.equal(r.statusCode, 201)
    assert.equal((await f.call('GET', `${A}/dst/part`)).body, 'lo wo')
    const s3 = f.store.s3Storage
    await s3.putObject(f.account, 'src', 'tagged', Readable.from([Buffer.from('data')]), { contentType: 'x/y', metadata: { m: '1' }, sysmeta: { acl: 'private' } })
    assert.equal((await f.call('COPY', `${A}/src/tagged`, { headers: { destination: 'dst/tagged' } })).statusCode, 201)
    const head = await s3.headObject(f.account, 'dst', 'tagged')
    assert.ok(head.status === 'ok')
    assert.deepEqual([head.info.sysmeta, head.info.metadata], [{ acl: 'private' }, { m: '1' }])
    assert.equal((await f.call('HEAD', `${A}/dst/tagged`)).headers['x-object-transient-sysmeta-s3-acl'], undefined)
  })

  it('answers the source\'s error, checks the destination first, and heartbeats on request', async () => {
    assert.equal((await f.call('COPY', `${A}/src/missing`, { headers: { destination: 'dst/x' } })).statusCode, 404)
    assert.equal((await f.call('COPY', `${A}/src/slo`, { headers: { destination: 'nocontainer/x' } })).statusCode, 404)
    assert.equal((await f.call('COPY', `${A}/src/slo`, { headers: { destination: 'dst/x', 'if-match': '"nope"' } })).statusCode, 412)
    const hb = await f.call('COPY', `${A}/src/slo?heartbeat=on`, { headers: { destination: 'dst/hb', accept: 'application/json' } })
    assert.equal(hb.statusCode, 202)
    const res = JSON.parse(hb.body)
    assert.equal(res['Response Status'], '201 Created')
    assert.equal(res['x-copied-from'], 'src/slo')
    assert.deepEqual(res.Errors, [])
    assert.equal((await f.call('GET', `${A}/dst/hb`)).body, 'hello world')
  })

  it('lists COPY among an object\'s methods', async () => {
    const o = await f.call('OPTIONS', `${A}/src/slo`)
    assert.equal(o.statusCode, 200)
    assert.match(String(o.headers.allow), /, COPY$/)
  })

  it('copies an S3 multipart object (an SLO) whole', async () => {
    const s3 = f.store.s3Storage
    const parts = ['abc', 'defg']
    const m = { etag: 'f00-2', bytes: 7, segments: parts.map((p, i) => ({ container: 'parts', object: `s3/${i}`, etag: md5(p), bytes: p.length })) }
    for (const [i, p] of parts.entries()) await s3.putObject(f.account, 'parts', `s3/${i}`, Readable.from([Buffer.from(p)]), { contentType: 'x', metadata: {} })
    assert.equal((await s3.putManifest(f.account, 'src', 'mpu', m, { contentType: 'a/b', metadata: {} })).status, 'created')
    const h = await f.call('HEAD', `${A}/src/mpu`)
    assert.equal(h.headers['content-length'], '7')
    assert.equal(h.headers['content-type'], 'a/b')
    assert.equal((await f.call('GET', `${A}/src/mpu`)).body, 'abcdefg')
    assert.equal((await f.call('COPY', `${A}/src/mpu`, { headers: { destination: 'dst/mpu' } })).statusCode, 201)
    assert.equal((await f.call('GET', `${A}/dst/mpu`)).body, 'abcdefg')
    const rows = JSON.parse((await f.call('GET', `${A}/src?format=json&prefix=mpu`)).body)
    assert.equal(rows[0].bytes, 7)
    assert.match(rows[0].hash, /^[0-9a-f]{32}; s3_etag=f00-2$/)
    const listed = await s3.listObjects(f.account, 'src', { limit: 10, prefix: 'mpu' })
    assert.ok(listed.status === 'ok' && 'hash' in listed.rows[0]! && listed.rows[0].hash === 'f00-2')
  })
})
