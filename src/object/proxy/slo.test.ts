// The slo middleware end to end: the default pipeline on real storage servers (3 replicas).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { infoDocument } from './info.ts'
import { sloMiddleware } from './slo.ts'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let A: string
const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex')
const seg = (c: string, n: number) => c.repeat(n)

before(async () => {
  f = await swiftFixture()
  A = `/v1/${f.account}`
  await f.call('PUT', `${A}/c`)
  await f.call('PUT', `${A}/segs`)
  for (const [name, body] of [['a', seg('a', 100)], ['b', seg('b', 50)], ['c', seg('c', 10)]]) {
    assert.equal((await f.call('PUT', `${A}/segs/${name}`, { body })).statusCode, 201)
  }
})
after(async () => { await f?.close() })

const manifest = (rows: unknown[]) => JSON.stringify(rows)
const putManifest = (name: string, rows: unknown[], headers: Record<string, string> = {}) =>
  f.call('PUT', `${A}/c/${name}?multipart-manifest=put`, { body: manifest(rows), headers })
const ABC = [
  { path: '/segs/a', etag: md5(seg('a', 100)), size_bytes: 100 },
  { path: 'segs/b', etag: null, size_bytes: null },
  { path: '/segs/c' },
]
const ABC_ETAG = md5(md5(seg('a', 100)) + md5(seg('b', 50)) + md5(seg('c', 10)))
const ABC_BODY = seg('a', 100) + seg('b', 50) + seg('c', 10)

describe('SLO: manifest PUT, GET, HEAD', () => {
  it('stores a manifest whose GET is the concatenation, with the SLO ETag and size', async () => {
    const put = await putManifest('abc', ABC, { 'content-type': 'text/x-big', 'x-object-meta-color': 'red' })
    assert.equal(put.statusCode, 201, put.body)
    assert.equal(put.headers.etag, `"${ABC_ETAG}"`)
    const head = await f.call('HEAD', `${A}/c/abc`)
    assert.equal(head.statusCode, 200)
    assert.equal(head.headers['x-static-large-object'], 'True')
    assert.equal(head.headers['content-length'], '160')
    assert.equal(head.headers.etag, `"${ABC_ETAG}"`)
    assert.equal(head.headers['content-type'], 'text/x-big')
    assert.equal(head.headers['x-object-meta-color'], 'red')
    assert.equal(head.headers['x-object-sysmeta-slo-etag'], undefined)
    assert.match(String(head.headers['x-manifest-etag']), /^[0-9a-f]{32}$/)
    const get = await f.call('GET', `${A}/c/abc`)
    assert.equal(get.statusCode, 200)
    assert.equal(get.body, ABC_BODY)
    assert.equal(get.headers['content-length'], '160')
    assert.equal(get.headers['accept-ranges'], 'bytes')
  })

  it('lists the SLO with its total size and slo_etag (JSON and XML)', async () => {
    const rows = JSON.parse((await f.call('GET', `${A}/c?format=json&prefix=abc`)).body)
    const raw = await f.call('GET', `${A}/c/abc?multipart-manifest=get`)
    assert.equal(rows[0].bytes, 160)
    assert.equal(rows[0].hash, md5(raw.rawPayload))
    assert.equal(rows[0].slo_etag, `"${ABC_ETAG}"`)
    const xml = (await f.call('GET', `${A}/c?format=xml&prefix=abc`)).body
    assert.match(xml, new RegExp(`<hash>${md5(raw.rawPayload)}</hash>.*<slo_etag>"${ABC_ETAG}"</slo_etag></object>`))
    assert.equal((await f.call('HEAD', `${A}/c`)).headers['x-container-bytes-used'], String(raw.rawPayload.length))
  })

  it('?multipart-manifest=get returns the stored manifest; format=raw the PUT-able form', async () => {
    const got = await f.call('GET', `${A}/c/abc?multipart-manifest=get`)
    assert.equal(got.headers['content-type'], 'application/json; charset=utf-8')
    assert.equal(got.headers.etag, md5(got.rawPayload))
    const rows = JSON.parse(got.body)
    assert.deepEqual(rows.map((r: any) => [r.name, r.bytes, r.hash]),
      [['/segs/a', 100, md5(seg('a', 100))], ['/segs/b', 50, md5(seg('b', 50))], ['/segs/c', 10, md5(seg('c', 10))]])
    assert.equal(rows[0].content_type, 'application/octet-stream')
    assert.match(rows[0].last_modified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    const raw = await f.call('GET', `${A}/c/abc?multipart-manifest=get&format=raw`)
    assert.equal(raw.headers['content-type'], 'text/x-big')
    assert.equal(raw.body, `[{"etag": "${md5(seg('a', 100))}", "path": "/segs/a", "size_bytes": 100}, ` +
      `{"etag": "${md5(seg('b', 50))}", "path": "/segs/b", "size_bytes": 50}, {"etag": "${md5(seg('c', 10))}", "path": "/segs/c", "size_bytes": 10}]`)
    assert.equal(raw.headers.etag, md5(raw.rawPayload))
    const head = await f.call('HEAD', `${A}/c/abc?multipart-manifest=get&format=raw`)
    assert.equal(head.headers['content-length'], String(raw.rawPayload.length))
  })

  it('serves ranges, multiple ranges and 416 over the segments', async () => {
    const r = await f.call('GET', `${A}/c/abc`, { headers: { range: 'bytes=95-104' } })
    assert.equal(r.statusCode, 206)
    assert.equal(r.body, 'aaaaabbbbb')
    assert.equal(r.headers['content-range'], 'bytes 95-104/160')
    assert.equal((await f.call('GET', `${A}/c/abc`, { headers: { range: 'bytes=-12' } })).body, 'bbcccccccccc')
    const multi = await f.call('GET', `${A}/c/abc`, { headers: { range: 'bytes=0-1,150-151' } })
    assert.equal(multi.statusCode, 206)
    const boundary = /boundary=(\w+)/.exec(String(multi.headers['content-type']))![1]
    assert.equal(multi.body, `--${boundary}\r\nContent-Type: text/x-big\r\nContent-Range: bytes 0-1/160\r\n\r\naa\r\n` +
      `--${boundary}\r\nContent-Type: text/x-big\r\nContent-Range: bytes 150-151/160\r\n\r\ncc\r\n--${boundary}--`)
    assert.equal(multi.headers['content-length'], String(multi.rawPayload.length))
    const bad = await f.call('GET', `${A}/c/abc`, { headers: { range: 'bytes=160-' } })
    assert.equal(bad.statusCode, 416)
    assert.equal(bad.headers['content-range'], 'bytes */160')
  })

  it('answers conditionals against the SLO ETag', async () => {
    assert.equal((await f.call('GET', `${A}/c/abc`, { headers: { 'if-none-match': `"${ABC_ETAG}"` } })).statusCode, 304)
    assert.equal((await f.call('GET', `${A}/c/abc`, { headers: { 'if-match': '"nope"' } })).statusCode, 412)
    assert.equal((await f.call('HEAD', `${A}/c/abc`, { headers: { 'if-match': ABC_ETAG } })).statusCode, 200)
    const ims = await f.call('GET', `${A}/c/abc`, { headers: { 'if-modified-since': new Date(Date.now() + 3600_000).toUTCString() } })
    assert.equal(ims.statusCode, 304)
  })

  it('?part-number reads one segment', async () => {
    const p2 = await f.call('GET', `${A}/c/abc?part-number=2`)
    assert.equal(p2.statusCode, 206)
    assert.equal(p2.body, seg('b', 50))
    assert.equal(p2.headers['content-range'], 'bytes 100-149/160')
    assert.equal(p2.headers['x-parts-count'], '3')
    const h = await f.call('HEAD', `${A}/c/abc?part-number=3`)
    assert.equal(h.statusCode, 206)
    assert.equal(h.headers['content-length'], '10')
    assert.equal((await f.call('GET', `${A}/c/abc?part-number=4`)).statusCode, 416)
    assert.equal((await f.call('GET', `${A}/c/abc?part-number=0`)).statusCode, 400)
  })

  it('supports segment ranges, inline data and nested SLOs', async () => {
    const data = Buffer.from('<data>').toString('base64')
    const put = await putManifest('mixed', [{ path: '/segs/a', range: '10-12' }, { data }, { path: '/segs/c', range: '-2' }])
    assert.equal(put.statusCode, 201, put.body)
    assert.equal(put.headers.etag, `"${md5(`${md5(seg('a', 100))}:10-12;${md5('<data>')}${md5(seg('c', 10))}:8-9;`)}"`)
    assert.equal((await f.call('GET', `${A}/c/mixed`)).body, 'aaa<data>cc')
    const nested = await putManifest('nested', [{ path: '/c/mixed' }, { path: '/c/abc', range: '98-101' }, { path: '/segs/c' }])
    assert.equal(nested.statusCode, 201, nested.body)
    const rows = JSON.parse((await f.call('GET', `${A}/c/nested?multipart-manifest=get`)).body)
    assert.equal(rows[0].sub_slo, true)
    assert.equal(rows[0].bytes, 11)
    assert.equal((await f.call('HEAD', `${A}/c/nested`)).headers['content-length'], String(11 + 4 + 10))
    assert.equal((await f.call('GET', `${A}/c/nested`)).body, 'aaa<data>cc' + 'aabb' + seg('c', 10))
    assert.equal((await f.call('GET', `${A}/c/nested`, { headers: { range: 'bytes=9-14' } })).body, 'ccaabb')
  })
})

describe('SLO: manifest validation', () => {
  it('lists every bad segment in a 400 (text and JSON)', async () => {
    const rows = [{ path: '/segs/a', etag: 'x', size_bytes: 99 }, { path: '/segs/missing' }, { path: '/segs/b' }]
    const r = await putManifest('bad', rows)
    assert.equal(r.statusCode, 400)
    assert.equal(r.body, 'Errors:\n/segs/a, Size Mismatch\n/segs/a, Etag Mismatch\n/segs/missing, 404 Not Found\n')
    const j = await putManifest('bad', rows, { accept: 'application/json' })
    assert.equal(j.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(j.body), { Errors: [['/segs/a', 'Size Mismatch'], ['/segs/a', 'Etag Mismatch'], ['/segs/missing', '404 Not Found']] })
    assert.equal((await f.call('HEAD', `${A}/c/bad`)).statusCode, 404)
  })

  it('rejects malformed manifests, itself as a segment, small segments and reserved headers', async () => {
    const bad = async (body: string, re: RegExp) => {
      const r = await f.call('PUT', `${A}/c/m?multipart-manifest=put`, { body })
      assert.equal(r.statusCode, 400)
      assert.match(r.body, re)
    }
    await bad('{', /Manifest must be valid JSON/)
    await bad('{}', /Manifest must be a list/)
    await bad(manifest([{ path: '/segs/a', foo: 1 }]), /Index 0: extraneous keys "foo"/)
    await bad(manifest([{ path: 'nocontainer' }]), /Index 0: path does not refer to an object/)
    await bad(manifest([{ path: '/c/m' }]), /Index 0: manifest must not include itself as a segment/)
    await bad(manifest([{ path: '/segs/a', size_bytes: 0 }, { path: '/segs/b' }]), /Index 0: too small/)
    await bad(manifest([{ path: '/segs/a', range: '1-2,4-5' }]), /Index 0: multiple ranges/)
    await bad(manifest([{ data: '!!' }, { path: '/segs/a' }]), /Index 0: data must be valid base64/)
    await bad(manifest([{ data: 'YQ==' }]), /require at least one object-backed segment/)
    const r = await putManifest('m', [{ path: '/segs/a', range: '100-200' }])
    assert.equal(r.body, 'Errors:\n/segs/a, Unsatisfiable Range\n')
    const plain = await f.call('PUT', `${A}/c/plain`, { body: 'x', headers: { 'x-static-large-object': 'True' } })
    assert.equal(plain.statusCode, 400)
    assert.match(plain.body, /X-Static-Large-Object is a reserved header/)
    const tooMany = manifest(Array.from({ length: 1001 }, () => ({ path: '/segs/a' })))
    assert.equal((await f.call('PUT', `${A}/c/m?multipart-manifest=put`, { body: tooMany })).statusCode, 413)
    const wrongEtag = await putManifest('m', [{ path: '/segs/a' }], { etag: 'deadbeef' })
    assert.equal(wrongEtag.statusCode, 422)
  })

  it('with heartbeat=on answers 202 and reports the outcome in the body', async () => {
    const ok = await f.call('PUT', `${A}/c/hb?multipart-manifest=put&heartbeat=on`, { body: manifest(ABC), headers: { accept: 'application/json' } })
    assert.equal(ok.statusCode, 202)
    const res = JSON.parse(ok.body)
    assert.equal(res['Response Status'], '201 Created')
    assert.equal(res.Etag, `"${ABC_ETAG}"`)
    assert.deepEqual(res.Errors, [])
    const bad = await f.call('PUT', `${A}/c/hb2?multipart-manifest=put&heartbeat=on`, { body: manifest([{ path: '/segs/nope' }]) })
    assert.equal(bad.statusCode, 202)
    assert.match(bad.body, /^ \r\n\r\nResponse Body: Bad Request\n.*\nResponse Status: 400 Bad Request\nErrors:\n\/segs\/nope, 404 Not Found\n$/)
  })
})

describe('SLO: segments that changed, access, deletion', () => {
  it('cuts the stream when a segment changed (409 when it is the first)', async () => {
    await f.call('PUT', `${A}/segs/x1`, { body: 'one-' })
    await f.call('PUT', `${A}/segs/x2`, { body: 'two-' })
    assert.equal((await putManifest('chg', [{ path: '/segs/x1' }, { path: '/segs/x2' }])).statusCode, 201)
    assert.equal((await f.call('GET', `${A}/c/chg`)).body, 'one-two-')
    await f.call('PUT', `${A}/segs/x2`, { body: 'TWO-' })
    const cut = await f.call('GET', `${A}/c/chg`).then((r) => r.body, () => 'rejected')
    assert.notEqual(cut, 'one-TWO-')
    assert.ok(!cut.includes('TWO'))
    await f.call('PUT', `${A}/segs/x1`, { body: 'ONE-' })
    assert.equal((await f.call('GET', `${A}/c/chg`)).statusCode, 409)
    assert.equal((await f.call('HEAD', `${A}/c/chg`)).statusCode, 200) // HEAD reads no segment
  })

  it('reads segments with the caller\'s rights', async () => {
    const bob = await f.user('slo-bob')
    await f.call('PUT', `${A}/pub`, { headers: { 'x-container-read': '.r:*' } })
    assert.equal((await f.call('PUT', `${A}/pub/big?multipart-manifest=put`, { body: manifest([{ path: '/segs/a' }]) })).statusCode, 201)
    assert.equal((await f.call('HEAD', `${A}/pub/big`, { token: bob.token })).statusCode, 200)
    assert.equal((await f.call('GET', `${A}/pub/big`, { token: bob.token })).statusCode, 409)
    await f.call('POST', `${A}/segs`, { headers: { 'x-container-read': '.r:*' } })
    assert.equal((await f.call('GET', `${A}/pub/big`, { token: bob.token })).body, seg('a', 100))
    await f.call('POST', `${A}/segs`, { headers: { 'x-remove-container-read': 'x' } })
  })

  it('?multipart-manifest=delete deletes the segments and the manifest, as bulk delete answers', async () => {
    await f.call('PUT', `${A}/del`)
    for (const n of ['1', '2']) await f.call('PUT', `${A}/del/s${n}`, { body: `part${n}` })
    assert.equal((await f.call('PUT', `${A}/del/sub?multipart-manifest=put`, { body: manifest([{ path: '/del/s2' }]) })).statusCode, 201)
    assert.equal((await f.call('PUT', `${A}/del/top?multipart-manifest=put`, { body: manifest([{ path: '/del/s1' }, { path: '/del/sub' }]) })).statusCode, 201)
    const d = await f.call('DELETE', `${A}/del/top?multipart-manifest=delete`)
    assert.equal(d.statusCode, 200)
    assert.equal(d.body, 'Number Deleted: 4\nNumber Not Found: 0\nResponse Body: \nResponse Status: 200 OK\nErrors:\n')
    assert.equal((await f.call('GET', `${A}/del?format=json`)).body, '[]')
    const again = await f.call('DELETE', `${A}/del/top?multipart-manifest=delete`, { headers: { accept: 'application/json' } })
    assert.deepEqual(JSON.parse(again.body), { 'Response Status': '200 OK', 'Response Body': '', 'Number Deleted': 0, 'Number Not Found': 1, Errors: [] })
    await f.call('PUT', `${A}/del/plain`, { body: 'x' })
    const notSlo = await f.call('DELETE', `${A}/del/plain?multipart-manifest=delete`)
    assert.match(notSlo.body, /Response Status: 400 Bad Request\nErrors:\n\/del\/plain, Not an SLO manifest\n/)
    assert.equal((await f.call('HEAD', `${A}/del/plain`)).statusCode, 200)
  })
})

describe('SLO: /info', () => {
  it('publishes Swift\'s slo section', () => {
    assert.deepEqual(infoDocument([], [sloMiddleware()]).slo, {
      max_manifest_segments: 1000, max_manifest_size: 8388608, yield_frequency: 10, min_segment_size: 1, allow_async_delete: false,
    })
  })
})
