// Object operations over a real local HTTP server: PUT/GET/HEAD/DELETE with metadata, ranges,
// conditionals, copy, DeleteObjects, presigned URLs, aws-chunked uploads, virtual-host style, and
// the refusals (bad digests, wrong payload hash, bad signatures, skew, size limits) with their
// XML error codes, checking that nothing was stored.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import type { FakeS3Storage } from './fake-storage.ts'
import { signChunkedUpload, signRequest } from './sigv4-client.ts'
import { ALICE, send, startS3TestServer, xmlText, xmlTexts, type S3TestServer } from './testing.ts'

let srv: S3TestServer
const names = (container: string) => (srv.storage as FakeS3Storage).objectNames('AUTH_p-alice', container)
const md5b64 = (s: string | Buffer) => createHash('md5').update(s).digest('base64')
const md5hex = (s: string | Buffer) => createHash('md5').update(s).digest('hex')

before(async () => {
  srv = await startS3TestServer({ maxObjectSize: 1024 * 1024, baseDomain: 's3.example.test' })
  assert.equal((await srv.client().request('PUT', '/bkt')).status, 200)
})
after(async () => {
  await srv.close()
  assert.deepEqual(srv.errors, [], 'no request failed with a 500')
})

describe('object CRUD', () => {
  it('stores an object with its metadata and returns it', async () => {
    const c = srv.client()
    const put = await c.request('PUT', '/bkt/dir/hello%20world.txt', { body: 'Hello, S3!', headers: {
      'content-type': 'text/plain', 'x-amz-meta-color': 'blue', 'x-amz-meta-Size-Class': 'M',
      'cache-control': 'max-age=60', 'content-disposition': 'attachment', 'content-md5': md5b64('Hello, S3!') } })
    assert.equal(put.status, 200, put.text)
    assert.equal(put.headers.etag, `"${md5hex('Hello, S3!')}"`)
    const get = await c.request('GET', '/bkt/dir/hello%20world.txt')
    assert.equal(get.status, 200)
    assert.equal(get.text, 'Hello, S3!')
    assert.equal(get.headers['content-type'], 'text/plain')
    assert.equal(get.headers['content-length'], '10')
    assert.equal(get.headers['x-amz-meta-color'], 'blue')
    assert.equal(get.headers['x-amz-meta-size-class'], 'M')
    assert.equal(get.headers['cache-control'], 'max-age=60')
    assert.equal(get.headers['content-disposition'], 'attachment')
    assert.equal(get.headers['accept-ranges'], 'bytes')
    assert.equal(get.headers.etag, put.headers.etag)
    assert.match(get.headers['last-modified']!, /GMT$/)
    const head = await c.request('HEAD', '/bkt/dir/hello%20world.txt')
    assert.equal(head.status, 200)
    assert.equal(head.headers['content-length'], '10')
    assert.equal(head.body.length, 0)
    assert.deepEqual(names('bkt'), ['dir/hello world.txt'])
  })

  it('defaults the content type, overwrites, deletes idempotently', async () => {
    const c = srv.client()
    await c.request('PUT', '/bkt/over', { body: 'one' })
    assert.equal((await c.request('GET', '/bkt/over')).headers['content-type'], 'binary/octet-stream')
    await c.request('PUT', '/bkt/over', { body: 'two!' })
    assert.equal((await c.request('GET', '/bkt/over')).text, 'two!')
    assert.equal((await c.request('DELETE', '/bkt/over')).status, 204)
    assert.equal((await c.request('DELETE', '/bkt/over')).status, 204)
    const gone = await c.request('GET', '/bkt/over')
    assert.equal(gone.status, 404)
    assert.equal(xmlText(gone.text, 'Code'), 'NoSuchKey')
    assert.equal(xmlText(gone.text, 'Key'), 'over')
    assert.equal((await c.request('HEAD', '/bkt/over')).status, 404)
  })

  it('stores an empty object and keys with unusual characters', async () => {
    const c = srv.client()
    assert.equal((await c.request('PUT', '/bkt/empty', { body: '' })).status, 200)
    const e = await c.request('GET', '/bkt/empty')
    assert.equal(e.status, 200)
    assert.equal(e.headers['content-length'], '0')
    assert.equal(e.headers.etag, '"d41d8cd98f00b204e9800998ecf8427e"')
    const key = "weird/ünï cödé+plus=eq&amp;$'!()*#"
    const path = `/bkt/${key.split('/').map(encodeURIComponent).join('/')}`
    assert.equal((await c.request('PUT', path, { body: 'w' })).status, 200)
    assert.equal((await c.request('GET', path)).text, 'w')
    assert.ok(names('bkt')!.includes(key))
    assert.equal((await c.request('DELETE', path)).status, 204)
    const long = await c.request('PUT', `/bkt/${'k'.repeat(1025)}`, { body: 'x' })
    assert.equal(xmlText(long.text, 'Code'), 'KeyTooLongError')
  })

  it('serves ranges', async () => {
    const c = srv.client()
    await c.request('PUT', '/bkt/digits', { body: '0123456789' })
    const cases: Array<[string, number, string, string | undefined]> = [
      ['bytes=0-3', 206, '0123', 'bytes 0-3/10'],
      ['bytes=7-', 206, '789', 'bytes 7-9/10'],
      ['bytes=-2', 206, '89', 'bytes 8-9/10'],
      ['bytes=5-100', 206, '56789', 'bytes 5-9/10'],
      ['bytes=3-1', 200, '0123456789', undefined],
      ['lines=1-2', 200, '0123456789', undefined],
    ]
    for (const [range, status, body, contentRange] of cases) {
      const r = await c.request('GET', '/bkt/digits', { headers: { range } })
      assert.equal(r.status, status, range)
      assert.equal(r.text, body, range)
      assert.equal(r.headers['content-range'], contentRange, range)
    }
    const bad = await c.request('GET', '/bkt/digits', { headers: { range: 'bytes=10-' } })
    assert.equal(bad.status, 416)
    assert.equal(xmlText(bad.text, 'Code'), 'InvalidRange')
    assert.equal(bad.headers['content-range'], 'bytes */10')
    const head = await c.request('HEAD', '/bkt/digits', { headers: { range: 'bytes=2-4' } })
    assert.equal(head.status, 206)
    assert.equal(head.headers['content-length'], '3')
  })

  it('evaluates conditional GETs', async () => {
    const c = srv.client()
    const put = await c.request('PUT', '/bkt/cond', { body: 'c' })
    const etag = put.headers.etag!
    assert.equal((await c.request('GET', '/bkt/cond', { headers: { 'if-match': etag } })).status, 200)
    const pf = await c.request('GET', '/bkt/cond', { headers: { 'if-match': '"nope"' } })
    assert.equal(pf.status, 412)
    assert.equal(xmlText(pf.text, 'Code'), 'PreconditionFailed')
    const nm = await c.request('GET', '/bkt/cond', { headers: { 'if-none-match': etag } })
    assert.equal(nm.status, 304)
    assert.equal(nm.headers.etag, etag)
    const future = new Date(Date.now() + 3600_000).toUTCString()
    const past = new Date(Date.now() - 3600_000).toUTCString()
    assert.equal((await c.request('GET', '/bkt/cond', { headers: { 'if-modified-since': future } })).status, 304)
    assert.equal((await c.request('GET', '/bkt/cond', { headers: { 'if-modified-since': past } })).status, 200)
    assert.equal((await c.request('GET', '/bkt/cond', { headers: { 'if-unmodified-since': past } })).status, 412)
    // If-Match true wins over a false If-Unmodified-Since (S3's documented rule).
    assert.equal((await c.request('GET', '/bkt/cond', { headers: { 'if-match': etag, 'if-unmodified-since': past } })).status, 200)
    const once = await c.request('PUT', '/bkt/cond', { body: 'again', headers: { 'if-none-match': '*' } })
    assert.equal(once.status, 412)
    assert.equal((await c.request('GET', '/bkt/cond')).text, 'c')
  })

  it('copies objects, keeping or replacing metadata', async () => {
    const c = srv.client()
    await c.request('PUT', '/bkt/src', { body: 'copy me', headers: { 'content-type': 'text/x-src', 'x-amz-meta-a': '1' } })
    const copy = await c.request('PUT', '/bkt/dst', { headers: { 'x-amz-copy-source': '/bkt/src' } })
    assert.equal(copy.status, 200, copy.text)
    assert.match(copy.text, /<CopyObjectResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/"><LastModified>/)
    assert.equal(xmlText(copy.text, 'ETag'), `"${md5hex('copy me')}"`)
    const dst = await c.request('GET', '/bkt/dst')
    assert.equal(dst.text, 'copy me')
    assert.equal(dst.headers['content-type'], 'text/x-src')
    assert.equal(dst.headers['x-amz-meta-a'], '1')
    const rep = await c.request('PUT', '/bkt/dst2', { headers: { 'x-amz-copy-source': 'bkt/src', 'x-amz-metadata-directive': 'REPLACE',
      'content-type': 'text/new', 'x-amz-meta-b': '2' } })
    assert.equal(rep.status, 200)
    const dst2 = await c.request('HEAD', '/bkt/dst2')
    assert.equal(dst2.headers['content-type'], 'text/new')
    assert.equal(dst2.headers['x-amz-meta-a'], undefined)
    assert.equal(dst2.headers['x-amz-meta-b'], '2')
    const self = await c.request('PUT', '/bkt/src', { headers: { 'x-amz-copy-source': '/bkt/src' } })
    assert.equal(xmlText(self.text, 'Code'), 'InvalidRequest')
    const selfReplace = await c.request('PUT', '/bkt/src', { headers: { 'x-amz-copy-source': '/bkt/src', 'x-amz-metadata-directive': 'REPLACE', 'x-amz-meta-c': '3' } })
    assert.equal(selfReplace.status, 200)
    assert.equal((await c.request('GET', '/bkt/src')).headers['x-amz-meta-c'], '3')
    const missing = await c.request('PUT', '/bkt/dst3', { headers: { 'x-amz-copy-source': '/bkt/nothing' } })
    assert.equal(xmlText(missing.text, 'Code'), 'NoSuchKey')
    const cond = await c.request('PUT', '/bkt/dst3', { headers: { 'x-amz-copy-source': '/bkt/src', 'x-amz-copy-source-if-match': '"zzz"' } })
    assert.equal(cond.status, 412)
    const noBucket = await c.request('PUT', '/nobucket/dst', { headers: { 'x-amz-copy-source': '/bkt/src' } })
    assert.equal(xmlText(noBucket.text, 'Code'), 'NoSuchBucket')
    assert.ok(!names('bkt')!.includes('dst3'))
  })

  it('deletes many objects at once, quietly or not', async () => {
    const c = srv.client()
    for (const k of ['m1', 'm2', 'm3']) await c.request('PUT', `/bkt/multi/${k}`, { body: k })
    const doc = (quiet: boolean, keys: string[]) => `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${quiet ? '<Quiet>true</Quiet>' : ''}` +
      keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('') + '</Delete>'
    const body = doc(false, ['multi/m1', 'multi/missing'])
    const r = await c.request('POST', '/bkt?delete', { body, headers: { 'content-md5': md5b64(body) } })
    assert.equal(r.status, 200, r.text)
    assert.match(r.text, /<DeleteResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">/)
    assert.deepEqual(xmlTexts(r.text, 'Key').sort(), ['multi/m1', 'multi/missing'])
    const quiet = await c.request('POST', '/bkt?delete', { body: doc(true, ['multi/m2', 'multi/m3']) })
    assert.equal(quiet.status, 200)
    assert.deepEqual(xmlTexts(quiet.text, 'Key'), [])
    assert.deepEqual(names('bkt')!.filter((n) => n.startsWith('multi/')), [])
    const badMd5 = await c.request('POST', '/bkt?delete', { body, headers: { 'content-md5': md5b64('other') } })
    assert.equal(xmlText(badMd5.text, 'Code'), 'BadDigest')
    const malformed = await c.request('POST', '/bkt?delete', { body: '<Delete><Object><Key>a</Key></Object>' })
    assert.equal(xmlText(malformed.text, 'Code'), 'MalformedXML')
    const tooMany = await c.request('POST', '/bkt?delete', { body: doc(true, Array.from({ length: 1001 }, (_, i) => `k${i}`)) })
    assert.equal(xmlText(tooMany.text, 'Code'), 'MalformedXML')
  })
})

describe('refusals store nothing', () => {
  it('BadDigest for a wrong Content-MD5, InvalidDigest for a malformed one', async () => {
    const c = srv.client()
    const bad = await c.request('PUT', '/bkt/r/md5', { body: 'data', headers: { 'content-md5': md5b64('other') } })
    assert.equal(bad.status, 400)
    assert.equal(xmlText(bad.text, 'Code'), 'BadDigest')
    const invalid = await c.request('PUT', '/bkt/r/md5', { body: 'data', headers: { 'content-md5': 'not-base64!' } })
    assert.equal(xmlText(invalid.text, 'Code'), 'InvalidDigest')
    assert.ok(!names('bkt')!.includes('r/md5'))
  })

  it('XAmzContentSHA256Mismatch when the body is not the one signed', async () => {
    const url = `${srv.url}/bkt/r/sha`
    const h = signRequest({ method: 'PUT', url, body: 'the signed body' }, { ...ALICE, region: 'RegionOne' })
    const r = await send('PUT', url, { ...h, 'content-length': '15' }, Buffer.from('another body!!!'))
    assert.equal(r.status, 400)
    assert.equal(xmlText(r.text, 'Code'), 'XAmzContentSHA256Mismatch')
    assert.ok(!names('bkt')!.includes('r/sha'))
  })

  it('SignatureDoesNotMatch for a wrong secret or a tampered header; InvalidAccessKeyId for an unknown key', async () => {
    const wrong = await srv.client({ accessKey: ALICE.accessKey, secret: 'wrong' }).request('PUT', '/bkt/r/sig', { body: 'x' })
    assert.equal(wrong.status, 403)
    assert.equal(xmlText(wrong.text, 'Code'), 'SignatureDoesNotMatch')
    const url = `${srv.url}/bkt/r/sig`
    const h = signRequest({ method: 'PUT', url, body: 'x', headers: { 'content-type': 'text/plain' } }, { ...ALICE, region: 'RegionOne' })
    const tampered = await send('PUT', url, { ...h, 'content-type': 'text/html', 'content-length': '1' }, Buffer.from('x'))
    assert.equal(xmlText(tampered.text, 'Code'), 'SignatureDoesNotMatch')
    const unknown = await srv.client({ accessKey: 'AKIANOBODY', secret: 's' }).request('GET', '/')
    assert.equal(xmlText(unknown.text, 'Code'), 'InvalidAccessKeyId')
    assert.ok(!names('bkt')!.includes('r/sig'))
  })

  it('RequestTimeTooSkewed for a clock 20 minutes off', async () => {
    const r = await srv.client().request('GET', '/bkt?list-type=2', { date: new Date(Date.now() - 20 * 60_000) })
    assert.equal(r.status, 403)
    assert.equal(xmlText(r.text, 'Code'), 'RequestTimeTooSkewed')
  })

  it('MissingContentLength without a length, EntityTooLarge over the limit', async () => {
    const url = `${srv.url}/bkt/r/nolen`
    const h = signRequest({ method: 'PUT', url, payloadHash: 'UNSIGNED-PAYLOAD' }, { ...ALICE, region: 'RegionOne' })
    const r = await send('PUT', url, { ...h, 'transfer-encoding': 'chunked' }, Buffer.from('abc'))
    assert.equal(r.status, 411)
    assert.equal(xmlText(r.text, 'Code'), 'MissingContentLength')
    const big = await srv.client().request('PUT', '/bkt/r/big', { body: Buffer.alloc(1024 * 1024 + 1), payload: 'unsigned' })
    assert.equal(big.status, 400)
    assert.equal(xmlText(big.text, 'Code'), 'EntityTooLarge')
    assert.ok(!names('bkt')!.includes('r/nolen') && !names('bkt')!.includes('r/big'))
  })

  it('a client that disconnects mid-upload leaves nothing behind', async () => {
    const url = new URL(`${srv.url}/bkt/r/cut`)
    const h = signRequest({ method: 'PUT', url, payloadHash: 'UNSIGNED-PAYLOAD' }, { ...ALICE, region: 'RegionOne' })
    await new Promise<void>((resolve) => {
      const req = http.request({ method: 'PUT', host: url.hostname, port: url.port, path: url.pathname,
        headers: { ...h, 'content-length': '100000' }, agent: false })
      req.on('error', () => resolve())
      req.write(Buffer.alloc(50_000))
      setTimeout(() => { req.destroy(); setTimeout(resolve, 100) }, 100)
    })
    assert.ok(!names('bkt')!.includes('r/cut'))
  })

  it('refusing an upload before reading it neither stores nor crashes, whatever the body does next', async () => {
    const big = Buffer.alloc(1000 * 1024, 1)
    const url = `${srv.url}/no-such-bucket/k`
    const h = signRequest({ method: 'PUT', url, body: big }, { ...ALICE, region: 'RegionOne' })
    const r = await send('PUT', url, { ...h, 'content-length': String(big.length) }, big).catch(() => undefined)
    if (r) assert.equal(xmlText(r.text, 'Code'), 'NoSuchBucket')
    const signed = signChunkedUpload({ method: 'PUT', url, body: big, chunkSize: 65536 }, { ...ALICE, region: 'RegionOne' })
    signed.body[100] = 0 // a bad first chunk, in a body nobody will read
    const r2 = await send('PUT', url, signed.headers, signed.body).catch(() => undefined)
    if (r2) assert.equal(xmlText(r2.text, 'Code'), 'NoSuchBucket')
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal((await srv.client().request('GET', '/bkt?list-type=2&max-keys=1')).status, 200) // still serving
  })

  it('NotImplemented for features not served (SSE, tagging)', async () => {
    const sse = await srv.client().request('PUT', '/bkt/r/sse', { body: 'x', headers: { 'x-amz-server-side-encryption': 'AES256' } })
    assert.equal(sse.status, 501)
    const tag = await srv.client().request('GET', '/bkt/r/sse?tagging')
    assert.equal(tag.status, 501)
    assert.ok(!names('bkt')!.includes('r/sse'))
  })
})

describe('other ways in', () => {
  it('accepts aws-chunked uploads with signed chunks, refuses a forged chunk', async () => {
    const c = srv.client()
    const data = Buffer.alloc(200_000, 7)
    const r = await c.request('PUT', '/bkt/chunked', { body: data, payload: 'chunked', chunkSize: 65536,
      headers: { 'content-type': 'application/x-test' } })
    assert.equal(r.status, 200, r.text)
    assert.equal(r.headers.etag, `"${md5hex(data)}"`)
    const got = await c.request('GET', '/bkt/chunked')
    assert.ok(got.body.equals(data))
    assert.equal(got.headers['content-encoding'], undefined)
    assert.equal(got.headers['content-type'], 'application/x-test')
    const url = `${srv.url}/bkt/forged`
    const signed = signChunkedUpload({ method: 'PUT', url, body: data, chunkSize: 65536 }, { ...ALICE, region: 'RegionOne' })
    signed.body[100_000] = 8 // inside the second chunk: its signature no longer matches
    const forged = await send('PUT', url, signed.headers, signed.body)
    assert.equal(forged.status, 403)
    assert.equal(xmlText(forged.text, 'Code'), 'SignatureDoesNotMatch')
    assert.ok(!names('bkt')!.includes('forged'))
  })

  it('serves presigned URLs until they expire', async () => {
    const c = srv.client()
    await c.request('PUT', '/bkt/shared', { body: 'shared secret' })
    const ok = await send('GET', c.presign('GET', '/bkt/shared', 60), {})
    assert.equal(ok.status, 200)
    assert.equal(ok.text, 'shared secret')
    const expired = await send('GET', c.presign('GET', '/bkt/shared', 60, new Date(Date.now() - 120_000)), {})
    assert.equal(expired.status, 403)
    assert.equal(xmlText(expired.text, 'Code'), 'AccessDenied')
    assert.equal(xmlText(expired.text, 'Message'), 'Request has expired')
    const put = await send('PUT', c.presign('PUT', '/bkt/uploaded', 60), { 'content-length': '3' }, Buffer.from('abc'))
    assert.equal(put.status, 200)
    assert.equal((await c.request('GET', '/bkt/uploaded')).text, 'abc')
  })

  it('serves virtual-host style requests', async () => {
    const url = `${srv.url}/shared`
    const h = signRequest({ method: 'GET', url, headers: { host: 'bkt.s3.example.test' } }, { ...ALICE, region: 'RegionOne' })
    const r = await send('GET', url, h)
    assert.equal(r.status, 200, r.text)
    assert.equal(r.text, 'shared secret')
    const list = signRequest({ method: 'GET', url: `${srv.url}/?list-type=2&prefix=sh`, headers: { host: 'bkt.s3.example.test' } }, { ...ALICE, region: 'RegionOne' })
    const l = await send('GET', `${srv.url}/?list-type=2&prefix=sh`, list)
    assert.deepEqual(xmlTexts(l.text, 'Key'), ['shared'])
  })

  it('answers response-* overrides for signed requests only', async () => {
    const c = srv.client()
    const r = await c.request('GET', '/bkt/shared?response-content-type=text%2Fcsv&response-content-disposition=inline')
    assert.equal(r.headers['content-type'], 'text/csv')
    assert.equal(r.headers['content-disposition'], 'inline')
  })
})
