// Bad input to the object store (issue #3): invalid names, oversized metadata, a lying
// Content-Length, wrong ETags, bad signatures, expired presigned URLs, bad bucket names and
// digests get the API's own error (Swift's status and text, S3's XML code), and nothing is
// written: every case is followed by a look at what exists (HEAD, listings).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { signRequest } from '../../src/object/s3/sigv4-client.ts'
import { S3TestClient, type S3TestResponse, send, xmlText } from '../../src/object/s3/testing.ts'
import { type ObjectCloud, S3_KEY, md5, rawRequest, startObjectCloud } from '../support/object-cloud.ts'

let cloud: ObjectCloud
before(async () => { cloud = await startObjectCloud() })
after(async () => { await cloud?.close() })

const b64md5 = (s: string | Buffer) => Buffer.from(md5(s), 'hex').toString('base64')

/** The container's object names (Swift listing). */
async function names(container: string): Promise<string[]> {
  const r = await cloud.swift('GET', `/${container}?format=json`)
  assert.ok(r.status === 200 || r.status === 204, `listing ${container}: ${r.status}`)
  return r.status === 204 ? [] : (JSON.parse(r.text) as { name: string }[]).map((o) => o.name)
}

/** The account's container names. */
async function containers(): Promise<string[]> {
  const r = await cloud.swift('GET', '?format=json')
  return r.status === 204 ? [] : (JSON.parse(r.text) as { name: string }[]).map((c) => c.name)
}

/** Nothing of these objects exists: HEAD 404 and not listed. */
async function assertAbsent(container: string, ...objs: string[]): Promise<void> {
  const listed = await names(container)
  for (const o of objs) {
    assert.equal((await cloud.swift('HEAD', `/${container}/${encodeURIComponent(o)}`)).status, 404, `${o} was written`)
    assert.ok(!listed.includes(o), `${o} is listed`)
  }
}

/** A raw PUT head for an object of container `c`. */
const rawPut = (path: string, headers: Record<string, string>) =>
  `PUT /v1/${cloud.account}${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: ${cloud.h.adminToken}\r\n` +
  Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n'

describe('Swift API bad input', () => {
  const C = 'bad-input'
  before(async () => { assert.equal((await cloud.swift('PUT', `/${C}`)).status, 201) })

  test('names: object over 1024 bytes, container over 256 → 400 with Swift\'s text; the limits themselves work', async () => {
    const longObj = 'o'.repeat(1025)
    const r1 = await cloud.swift('PUT', `/${C}/${longObj}`, { body: 'x' })
    assert.equal(r1.status, 400)
    assert.equal(r1.text, 'Object name length of 1025 longer than 1024')
    // Characters count as UTF-8 bytes: 205 × (2 + 3) = 1025.
    const r2 = await cloud.swift('PUT', `/${C}/${encodeURIComponent('é€'.repeat(205))}`, { body: 'x' })
    assert.equal(r2.status, 400)
    assert.equal(r2.text, 'Object name length of 1025 longer than 1024')
    const longCont = 'c'.repeat(257)
    const r3 = await cloud.swift('PUT', `/${longCont}`)
    assert.equal(r3.status, 400)
    assert.equal(r3.text, 'Container name length of 257 longer than 256')
    await assertAbsent(C, longObj)
    assert.ok(!(await containers()).includes(longCont))
    // Exactly at the limits: accepted.
    const okObj = 'p'.repeat(1024)
    assert.equal((await cloud.swift('PUT', `/${C}/${okObj}`, { body: 'y' })).status, 201)
    assert.equal((await cloud.swift('PUT', `/${'d'.repeat(256)}`)).status, 201)
    assert.equal((await cloud.swift('DELETE', `/${C}/${okObj}`)).status, 204)
    assert.equal((await cloud.swift('DELETE', `/${'d'.repeat(256)}`)).status, 204)
  })

  test('names: a container name with "/" is a container and an object; NUL → 412; nothing created', async () => {
    // %2F is decoded before the path is split (Swift's split_path on the unquoted path): this is
    // object "b" in container "slash-a", which does not exist.
    const r = await cloud.swift('PUT', '/slash-a%2Fb')
    assert.equal(r.status, 404)
    const before = await containers()
    assert.ok(!before.includes('slash-a') && !before.includes('slash-a/b'))
    for (const path of ['/nul%00c', `/${C}/nul%00obj`]) {
      const n = await cloud.swift('PUT', path, { body: 'x' })
      assert.equal(n.status, 412, path)
      assert.equal(n.text, 'Invalid UTF8 or contains NULL')
    }
    assert.deepEqual(await containers(), before)
    assert.deepEqual(await names(C), [])
  })

  test('names: invalid UTF-8 is refused and nothing is created', async () => {
    const before = await containers()
    for (const path of ['/bad%FFname', `/${C}/bad%FF%FEname`, `/${C}/trunc%E2%82`]) {
      const r = await cloud.swift('PUT', path, { body: 'x' })
      assert.ok(r.status >= 400 && r.status < 500, `${path}: ${r.status}`)
    }
    assert.deepEqual(await containers(), before)
    assert.deepEqual(await names(C), [])
  })

  // Swift answers 412 "Invalid UTF8 or contains NULL"; the proxy renders the router's
  // FST_ERR_BAD_URL that way (createApi's frameworkError).
  test('names: invalid UTF-8 → 412 "Invalid UTF8 or contains NULL" as Swift', async () => {
    const r = await cloud.swift('PUT', `/${C}/bad%FF%FEname`, { body: 'x' })
    assert.equal(r.status, 412)
    assert.equal(r.text, 'Invalid UTF8 or contains NULL')
  })

  test('metadata over Swift\'s limits (name 128, value 256, count 90, total 4096) → 400, nothing written', async () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-object-meta-m${i}`, 'v']))
    // 16 items of 3 + 253 bytes = 4096 exactly; one value longer by one byte passes it.
    const total = (extra: number) => Object.fromEntries(Array.from({ length: 16 }, (_, i) =>
      [`x-object-meta-${String(i).padStart(3, 'k')}`, 'v'.repeat(253 + (i === 0 ? extra : 0))]))
    const cases: [string, Record<string, string>, RegExp][] = [
      ['name', { [`x-object-meta-${'n'.repeat(129)}`]: 'v' }, /^Metadata name too long: x-object-meta-n{129}$/i],
      ['value', { 'x-object-meta-v': 'v'.repeat(257) }, /^Metadata value longer than 256: x-object-meta-v$/i],
      ['count', many(91), /^Too many metadata items; max 90$/],
      ['total', total(1), /^Total metadata too large; max 4096$/],
    ]
    for (const [what, headers, text] of cases) {
      const r = await cloud.swift('PUT', `/${C}/meta-${what}`, { body: 'x', headers })
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`)
      assert.match(r.text, text)
      await assertAbsent(C, `meta-${what}`)
    }
    // At the limits: accepted.
    for (const [what, headers] of [['name', { [`x-object-meta-${'n'.repeat(128)}`]: 'v' }], ['value', { 'x-object-meta-v': 'v'.repeat(256) }],
      ['count', many(90)], ['total', total(0)]] as const) {
      assert.equal((await cloud.swift('PUT', `/${C}/meta-ok-${what}`, { body: 'x', headers })).status, 201, what)
    }
    // POST to an existing object: refused, its metadata unchanged.
    const post = await cloud.swift('POST', `/${C}/meta-ok-value`, { headers: { 'x-object-meta-v': 'w'.repeat(257) } })
    assert.equal(post.status, 400)
    assert.equal((await cloud.swift('HEAD', `/${C}/meta-ok-value`)).headers['x-object-meta-v'], 'v'.repeat(256))
    // Containers and accounts have the same limits.
    const cput = await cloud.swift('PUT', '/meta-cont', { headers: { [`x-container-meta-${'n'.repeat(129)}`]: 'v' } })
    assert.equal(cput.status, 400)
    assert.match(cput.text, /^Metadata name too long: x-container-meta-n{129}$/i)
    assert.ok(!(await containers()).includes('meta-cont'))
    const cpost = await cloud.swift('POST', `/${C}`, { headers: { 'x-container-meta-big': 'v'.repeat(257) } })
    assert.equal(cpost.status, 400)
    assert.equal((await cloud.swift('HEAD', `/${C}`)).headers['x-container-meta-big'], undefined)
    const apost = await cloud.swift('POST', '', { headers: Object.fromEntries(Array.from({ length: 91 }, (_, i) => [`x-account-meta-m${i}`, 'v'])) })
    assert.equal(apost.status, 400)
    assert.equal((await cloud.swift('HEAD', '')).headers['x-account-meta-m0'], undefined)
    for (const what of ['name', 'value', 'count', 'total']) await cloud.swift('DELETE', `/${C}/meta-ok-${what}`)
  })

  test('ETag mismatch → 422 and nothing written; a bad overwrite leaves the old object', async () => {
    const r = await cloud.swift('PUT', `/${C}/etag`, { body: 'hello', headers: { etag: md5('other') } })
    assert.equal(r.status, 422)
    await assertAbsent(C, 'etag')
    assert.equal((await cloud.swift('PUT', `/${C}/keep`, { body: 'old bytes' })).status, 201)
    const over = await cloud.swift('PUT', `/${C}/keep`, { body: 'new bytes', headers: { etag: md5('something else') } })
    assert.equal(over.status, 422)
    const g = await cloud.swift('GET', `/${C}/keep`)
    assert.equal(g.text, 'old bytes')
    assert.equal(g.headers.etag, md5('old bytes'))
    assert.equal((await cloud.swift('DELETE', `/${C}/keep`)).status, 204)
  })

  test('a body shorter than its Content-Length: client gone (FIN or reset) → no object', async () => {
    const half = await rawRequest(cloud.port, rawPut(`/${C}/short-fin`, { 'Content-Length': '100000' }), Buffer.alloc(50_000, 1), { then: 'half-close', waitMs: 5000 })
    assert.ok(half.closed, 'the server closes the connection')
    assert.ok([0, 400, 499].includes(half.status), `half-closed short body: ${half.status} ${half.raw.slice(0, 200)}`)
    await rawRequest(cloud.port, rawPut(`/${C}/short-rst`, { 'Content-Length': '100000' }), Buffer.alloc(50_000, 1), { then: 'close', afterMs: 200 })
    // A chunked body cut before its last chunk.
    const chunked = await rawRequest(cloud.port, rawPut(`/${C}/short-chunked`, { 'Transfer-Encoding': 'chunked' }), Buffer.from('5\r\nhello\r\n'), { then: 'half-close', waitMs: 5000 })
    assert.ok([0, 400, 499].includes(chunked.status), `cut chunked body: ${chunked.status}`)
    await new Promise((r) => setTimeout(r, 200)) // the proxy finishes aborting the node writes
    await assertAbsent(C, 'short-fin', 'short-rst', 'short-chunked')
  })

  test('a body that stalls past client_timeout → 408, connection closed, no object', async () => {
    cloud.setClientTimeout(800)
    try {
      const t0 = Date.now()
      const r = await rawRequest(cloud.port, rawPut(`/${C}/stalled`, { 'Content-Length': '100000' }), Buffer.alloc(1000, 1), { waitMs: 10_000 })
      assert.ok(r.closed && Date.now() - t0 < 9000, 'the proxy gives up on a silent client')
      assert.equal(r.status, 408, `stalled upload: ${r.raw.slice(0, 200)}`)
    } finally {
      cloud.setClientTimeout(60_000)
    }
    await assertAbsent(C, 'stalled')
  })

  test('a body longer than its Content-Length: only the announced bytes count; the rest is no request', async () => {
    // With an ETag of the whole (longer) body the announced prefix fails it: never stored.
    const body = Buffer.alloc(60, 0x41)
    const r = await rawRequest(cloud.port, rawPut(`/${C}/long-etag`, { 'Content-Length': '10', ETag: md5(body) }), body, { waitMs: 5000 })
    assert.ok(r.statuses.every((s) => s >= 400), `long body with whole-body ETag: ${r.statuses}`)
    await new Promise((res) => setTimeout(res, 200))
    await assertAbsent(C, 'long-etag')
    // Without one, whatever is stored is exactly the announced 10 bytes, never the trailing ones.
    await rawRequest(cloud.port, rawPut(`/${C}/long-plain`, { 'Content-Length': '10' }), body, { waitMs: 5000 })
    await new Promise((res) => setTimeout(res, 200))
    const g = await cloud.swift('GET', `/${C}/long-plain`)
    if (g.status === 200) assert.equal(g.text, 'A'.repeat(10))
    else assert.equal(g.status, 404)
    await cloud.swift('DELETE', `/${C}/long-plain`)
    assert.deepEqual(await names(C), [])
  })

  test('Content-Length and Transfer-Encoding errors: 411, 400, 413, 501; other refusals; nothing written', async () => {
    const none = await rawRequest(cloud.port, rawPut(`/${C}/no-length`, {}), Buffer.alloc(0), { waitMs: 3000 })
    assert.equal(none.status, 411)
    assert.match(none.raw, /Missing Content-Length header\./)
    const bad = await rawRequest(cloud.port, rawPut(`/${C}/bad-length`, { 'Content-Length': 'abc' }), Buffer.alloc(0), { waitMs: 3000 })
    assert.equal(bad.status, 400)
    const huge = await rawRequest(cloud.port, rawPut(`/${C}/huge`, { 'Content-Length': '6000000000' }), Buffer.alloc(10), { waitMs: 3000 })
    assert.equal(huge.status, 413)
    assert.match(huge.raw, /Your request is too large\./)
    const te = await rawRequest(cloud.port, rawPut(`/${C}/gzip`, { 'Transfer-Encoding': 'gzip, chunked' }), Buffer.from('0\r\n\r\n'), { waitMs: 3000 })
    assert.equal(te.status, 501)
    const cases: [string, Record<string, string>, number, string][] = [
      ['delete-at-past', { 'x-delete-at': '1000' }, 400, 'X-Delete-At in past'],
      ['delete-after-bad', { 'x-delete-after': 'soon' }, 400, 'Non-integer X-Delete-After'],
      ['swift-param', { 'content-type': 'text/plain; swift_bytes=3' }, 400, 'Invalid Content-Type, swift_* is not a valid parameter name.'],
      ['if-none-match', { 'if-none-match': 'abc' }, 400, 'If-None-Match only supports *'],
    ]
    for (const [name, headers, status, text] of cases) {
      const r = await cloud.swift('PUT', `/${C}/${name}`, { body: 'x', headers })
      assert.equal(r.status, status, name)
      assert.equal(r.text, text)
    }
    assert.equal((await cloud.swift('PUT', '/no-such-container/o', { body: 'x' })).status, 404)
    assert.ok(!(await containers()).includes('no-such-container'))
    await assertAbsent(C, 'no-length', 'bad-length', 'huge', 'gzip', ...cases.map((c) => c[0]))
  })
})

describe('S3 API bad input', () => {
  const B = 's3-bad-input'
  const xmlError = (r: S3TestResponse, status: number, code: string) => {
    assert.equal(r.status, status, `${code}: ${r.status} ${r.text}`)
    assert.match(String(r.headers['content-type']), /xml/)
    assert.equal(xmlText(r.text, 'Code'), code, r.text)
    return xmlText(r.text, 'Message') ?? ''
  }
  /** The bucket's keys (S3 listing, signed correctly). */
  const keys = async () => [...(await cloud.s3.request('GET', `/${B}`)).text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1])
  const buckets = async () => [...(await cloud.s3.request('GET', '/')).text.matchAll(/<Name>([^<]*)<\/Name>/g)].map((m) => m[1])
  const absent = async (...ks: string[]) => {
    const listed = await keys()
    for (const k of ks) {
      assert.equal((await cloud.s3.request('HEAD', `/${B}/${k}`)).status, 404, `${k} was written`)
      assert.ok(!listed.includes(k))
    }
  }
  before(async () => {
    assert.equal((await cloud.s3.request('PUT', `/${B}`)).status, 200)
    assert.equal((await cloud.s3.request('PUT', `/${B}/existing`, { body: 'original' })).status, 200)
  })

  test('wrong secret → 403 SignatureDoesNotMatch; unknown key → 403 InvalidAccessKeyId; nothing written', async () => {
    const wrong = new S3TestClient(cloud.url, { accessKey: S3_KEY.accessKey, secret: 'not-the-secret', region: 'RegionOne' })
    assert.match(xmlError(await wrong.request('PUT', `/${B}/by-wrong-secret`, { body: 'x' }), 403, 'SignatureDoesNotMatch'), /signature we calculated does not match/)
    xmlError(await wrong.request('PUT', `/${B}/existing`, { body: 'overwritten' }), 403, 'SignatureDoesNotMatch')
    xmlError(await wrong.request('DELETE', `/${B}/existing`), 403, 'SignatureDoesNotMatch')
    xmlError(await wrong.request('PUT', '/made-by-wrong-secret'), 403, 'SignatureDoesNotMatch')
    const unknown = new S3TestClient(cloud.url, { accessKey: 'AKIANOSUCHKEY', secret: 'x', region: 'RegionOne' })
    const m = xmlError(await unknown.request('PUT', `/${B}/by-unknown-key`, { body: 'x' }), 403, 'InvalidAccessKeyId')
    assert.match(m, /does not exist in our records/)
    xmlError(await unknown.request('GET', `/${B}/existing`), 403, 'InvalidAccessKeyId')
    // Unsigned: anonymous, and the bucket is private.
    xmlError(await send('PUT', `${cloud.url}/${B}/anonymous`, {}, Buffer.from('x')), 403, 'AccessDenied')
    await absent('by-wrong-secret', 'by-unknown-key', 'anonymous')
    assert.ok(!(await buckets()).includes('made-by-wrong-secret'))
    assert.equal((await cloud.s3.request('GET', `/${B}/existing`)).text, 'original')
  })

  test('presigned URLs: expired → 403 AccessDenied "Request has expired"; tampered → SignatureDoesNotMatch', async () => {
    const hourAgo = new Date(Date.now() - 3600_000)
    const get = await send('GET', cloud.s3.presign('GET', `/${B}/existing`, 60, hourAgo), {})
    assert.equal(xmlError(get, 403, 'AccessDenied'), 'Request has expired')
    assert.ok(!get.text.includes('original'), 'no object bytes in the error')
    const put = await send('PUT', cloud.s3.presign('PUT', `/${B}/by-expired-url`, 60, hourAgo), {}, Buffer.from('x'))
    assert.equal(xmlError(put, 403, 'AccessDenied'), 'Request has expired')
    const good = cloud.s3.presign('PUT', `/${B}/by-tampered-url`, 300)
    const tampered = good.replace(/X-Amz-Signature=([0-9a-f])/, (_, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`)
    xmlError(await send('PUT', tampered, {}, Buffer.from('x')), 403, 'SignatureDoesNotMatch')
    // The same URL signed for GET does not allow a PUT.
    xmlError(await send('PUT', cloud.s3.presign('GET', `/${B}/by-get-url`, 300), {}, Buffer.from('x')), 403, 'SignatureDoesNotMatch')
    await absent('by-expired-url', 'by-tampered-url', 'by-get-url')
    // A valid one still works.
    assert.equal((await send('GET', cloud.s3.presign('GET', `/${B}/existing`, 300), {})).text, 'original')
  })

  test('bad bucket names → 400 InvalidBucketName; no bucket, no Swift container', async () => {
    const bad = ['ab', 'x'.repeat(64), 'Upper', 'under_score', '-lead', 'trail-', 'two..dots', '192.168.5.4', 'xn--punycode', 'name-s3alias']
    for (const name of bad) xmlError(await cloud.s3.request('PUT', `/${name}`), 400, 'InvalidBucketName')
    const all = await buckets()
    const swift = await containers()
    for (const name of bad) {
      assert.ok(!all.includes(name), name)
      assert.ok(!swift.includes(name), name)
    }
  })

  test('Content-MD5 mismatch → 400 BadDigest, malformed → InvalidDigest, payload hash mismatch → XAmzContentSHA256Mismatch', async () => {
    const m = xmlError(await cloud.s3.request('PUT', `/${B}/bad-md5`, { body: 'hello', headers: { 'content-md5': b64md5('jello') } }), 400, 'BadDigest')
    assert.match(m, /Content-MD5 you specified did not match/)
    xmlError(await cloud.s3.request('PUT', `/${B}/invalid-md5`, { body: 'hello', headers: { 'content-md5': 'not-base64-md5' } }), 400, 'InvalidDigest')
    // Overwriting with a bad digest keeps the old object.
    xmlError(await cloud.s3.request('PUT', `/${B}/existing`, { body: 'changed', headers: { 'content-md5': b64md5('other') } }), 400, 'BadDigest')
    // Signed for one body, sent with another of the same length.
    const url = `${cloud.url}/${B}/bad-sha`
    const headers = signRequest({ method: 'PUT', url, headers: {}, body: Buffer.from('hello') }, { ...S3_KEY, region: 'RegionOne' })
    xmlError(await send('PUT', url, { ...headers, 'content-length': '5' }, Buffer.from('jello')), 400, 'XAmzContentSHA256Mismatch')
    await absent('bad-md5', 'invalid-md5', 'bad-sha')
    assert.equal((await cloud.s3.request('GET', `/${B}/existing`)).text, 'original')
  })

  test('a key over 1024 bytes, metadata over 2 KB → KeyTooLongError, MetadataTooLarge', async () => {
    xmlError(await cloud.s3.request('PUT', `/${B}/${'k'.repeat(1025)}`, { body: 'x' }), 400, 'KeyTooLongError')
    xmlError(await cloud.s3.request('PUT', `/${B}/big-meta`, { body: 'x', headers: { 'x-amz-meta-big': 'v'.repeat(2100) } }), 400, 'MetadataTooLarge')
    await absent('big-meta')
    assert.deepEqual(await keys(), ['existing'])
  })

  test('a signed upload whose body is cut short → no object', async () => {
    const url = `${cloud.url}/${B}/cut-short`
    const headers = signRequest({ method: 'PUT', url, headers: { 'content-length': '100000' }, payloadHash: 'UNSIGNED-PAYLOAD' }, { ...S3_KEY, region: 'RegionOne' })
    const head = `PUT /${B}/cut-short HTTP/1.1\r\n${Object.entries({ ...headers, 'content-length': '100000' }).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
    const r = await rawRequest(cloud.port, head, Buffer.alloc(40_000, 2), { then: 'half-close', waitMs: 5000 })
    assert.ok([0, 400, 499].includes(r.status), `${r.status} ${r.raw.slice(0, 200)}`)
    await new Promise((res) => setTimeout(res, 200))
    await absent('cut-short')
  })

  test('multipart: a part with a bad Content-MD5 and a completion naming wrong parts → errors, no object', async () => {
    const init = await cloud.s3.request('POST', `/${B}/mp?uploads`)
    assert.equal(init.status, 200)
    const uploadId = xmlText(init.text, 'UploadId')!
    const part = Buffer.alloc(5 * 1024 * 1024, 7)
    xmlError(await cloud.s3.request('PUT', `/${B}/mp?partNumber=1&uploadId=${uploadId}`, { body: part, headers: { 'content-md5': b64md5('x') } }), 400, 'BadDigest')
    const p1 = await cloud.s3.request('PUT', `/${B}/mp?partNumber=1&uploadId=${uploadId}`, { body: part })
    assert.equal(p1.status, 200)
    const complete = (parts: [number, string][]) => `<CompleteMultipartUpload>${parts.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`
    xmlError(await cloud.s3.request('POST', `/${B}/mp?uploadId=${uploadId}`, { body: complete([[1, `"${md5('not the part')}"`]]) }), 400, 'InvalidPart')
    xmlError(await cloud.s3.request('POST', `/${B}/mp?uploadId=${uploadId}`, { body: complete([[1, p1.headers.etag as string], [2, `"${md5('q')}"`]]) }), 400, 'InvalidPart')
    xmlError(await cloud.s3.request('POST', `/${B}/mp?uploadId=${uploadId}`, { body: '<CompleteMultipartUpload><Part>' }), 400, 'MalformedXML')
    xmlError(await cloud.s3.request('POST', `/${B}/mp?uploadId=no-such-upload`, { body: complete([[1, p1.headers.etag as string]]) }), 404, 'NoSuchUpload')
    await absent('mp')
    assert.equal((await cloud.s3.request('DELETE', `/${B}/mp?uploadId=${uploadId}`)).status, 204)
    assert.deepEqual(await keys(), ['existing'])
  })
})
