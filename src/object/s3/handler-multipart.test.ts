// Multipart uploads over a real local HTTP server (minimum part size lowered to 5 KiB): the full
// cycle with three parts, listing parts and uploads, completion's checks (order, ETags, sizes),
// abort, part copy, and clean-up of segments on delete and overwrite.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { FakeS3Storage } from './fake-storage.ts'
import { startS3TestServer, xmlText, xmlTexts, type S3TestClient, type S3TestServer } from './testing.ts'

const MIN = 5 * 1024
let srv: S3TestServer
let c: S3TestClient
const segments = () => (srv.storage as FakeS3Storage).objectNames('AUTH_p-alice', 'mpu+segments') ?? []
const md5 = (b: Buffer) => createHash('md5').update(b).digest()

before(async () => {
  srv = await startS3TestServer({ minPartSize: MIN })
  c = srv.client()
  assert.equal((await c.request('PUT', '/mpu')).status, 200)
})
after(async () => {
  await srv.close()
  assert.deepEqual(srv.errors, [], 'no request failed with a 500')
})

async function initiate(key: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await c.request('POST', `/mpu/${key}?uploads`, { headers })
  assert.equal(r.status, 200, r.text)
  assert.match(r.text, /<InitiateMultipartUploadResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/"><Bucket>mpu<\/Bucket>/)
  return xmlText(r.text, 'UploadId')!
}

async function part(key: string, id: string, n: number, data: Buffer): Promise<string> {
  const r = await c.request('PUT', `/mpu/${key}?partNumber=${n}&uploadId=${id}`, { body: data })
  assert.equal(r.status, 200, r.text)
  return r.headers.etag!
}

const completeDoc = (parts: Array<[number, string]>) => '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
  parts.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>${e}</ETag></Part>`).join('') + '</CompleteMultipartUpload>'

describe('multipart upload', () => {
  it('uploads three parts, lists them, completes, and reads the whole back', async () => {
    const id = await initiate('big/file.bin', { 'content-type': 'application/x-big', 'x-amz-meta-origin': 'test', 'x-amz-acl': 'public-read' })
    const p1 = Buffer.alloc(MIN, 1)
    const p2 = Buffer.alloc(MIN + 100, 2)
    const p3 = Buffer.alloc(10, 3)
    const e1 = await part('big/file.bin', id, 1, p1)
    const e2 = await part('big/file.bin', id, 2, p2)
    const e3 = await part('big/file.bin', id, 3, p3)
    await part('big/file.bin', id, 4, Buffer.alloc(20, 4)) // uploaded, then left out of the object

    const lp = await c.request('GET', `/mpu/big/file.bin?uploadId=${id}&max-parts=2`)
    assert.equal(lp.status, 200)
    assert.deepEqual(xmlTexts(lp.text, 'PartNumber'), ['1', '2'])
    assert.equal(xmlText(lp.text, 'IsTruncated'), 'true')
    assert.equal(xmlText(lp.text, 'NextPartNumberMarker'), '2')
    const lp2 = await c.request('GET', `/mpu/big/file.bin?uploadId=${id}&part-number-marker=2`)
    assert.deepEqual(xmlTexts(lp2.text, 'PartNumber'), ['3', '4'])
    assert.deepEqual(xmlTexts(lp2.text, 'Size'), ['10', '20'])
    const uploads = await c.request('GET', '/mpu?uploads')
    assert.deepEqual(xmlTexts(uploads.text, 'UploadId'), [id])
    assert.deepEqual(xmlTexts(uploads.text, 'Key'), ['big/file.bin'])

    const done = await c.request('POST', `/mpu/big/file.bin?uploadId=${id}`, { body: completeDoc([[1, e1], [2, e2], [3, e3]]) })
    assert.equal(done.status, 200, done.text)
    const etag = `${createHash('md5').update(Buffer.concat([p1, p2, p3].map(md5))).digest('hex')}-3`
    assert.equal(xmlText(done.text, 'ETag'), `"${etag}"`)
    assert.equal(xmlText(done.text, 'Key'), 'big/file.bin')
    assert.match(xmlText(done.text, 'Location')!, /\/mpu\/big\/file.bin$/)

    const whole = await c.request('GET', '/mpu/big/file.bin')
    assert.equal(whole.status, 200)
    assert.ok(whole.body.equals(Buffer.concat([p1, p2, p3])))
    assert.equal(whole.headers.etag, `"${etag}"`)
    assert.equal(whole.headers['content-type'], 'application/x-big')
    assert.equal(whole.headers['x-amz-meta-origin'], 'test')
    const across = await c.request('GET', '/mpu/big/file.bin', { headers: { range: `bytes=${MIN - 2}-${MIN + 1}` } })
    assert.equal(across.status, 206)
    assert.deepEqual([...across.body], [1, 1, 2, 2])
    assert.equal((await srv.client(null).request('GET', '/mpu/big/file.bin')).status, 200) // the upload's ACL
    const listing = await c.request('GET', '/mpu?list-type=2')
    assert.equal(xmlText(listing.text, 'ETag'), `"${etag}"`)
    assert.equal(xmlText(listing.text, 'Size'), String(MIN * 2 + 110))

    // The marker and the unused part 4 are gone; a retried Complete answers as the first did.
    assert.deepEqual(segments().map((n) => n.slice(n.lastIndexOf('/') + 1)), ['00001', '00002', '00003'])
    const again = await c.request('POST', `/mpu/big/file.bin?uploadId=${id}`, { body: completeDoc([[1, e1], [2, e2], [3, e3]]) })
    assert.equal(again.status, 200)
    assert.equal(xmlText(again.text, 'ETag'), `"${etag}"`)
    assert.deepEqual(xmlTexts((await c.request('GET', '/mpu?uploads')).text, 'UploadId'), [])

    // Overwriting with another upload frees the old parts; deleting frees the new ones.
    const id2 = await initiate('big/file.bin')
    const f1 = await part('big/file.bin', id2, 1, Buffer.alloc(MIN, 9))
    const f2 = await part('big/file.bin', id2, 2, Buffer.alloc(1, 9))
    assert.equal((await c.request('POST', `/mpu/big/file.bin?uploadId=${id2}`, { body: completeDoc([[1, f1], [2, f2]]) })).status, 200)
    assert.ok(segments().every((n) => n.includes(id2)))
    assert.equal(segments().length, 2)
    assert.equal((await c.request('GET', '/mpu/big/file.bin')).body.length, MIN + 1)
    assert.equal((await c.request('DELETE', '/mpu/big/file.bin')).status, 204)
    assert.deepEqual(segments(), [])
  })

  it('checks parts at completion: order, ETags, minimum size', async () => {
    const id = await initiate('checked')
    const e1 = await part('checked', id, 1, Buffer.alloc(100, 1))
    const e2 = await part('checked', id, 2, Buffer.alloc(MIN, 2))
    const cases: Array<[Array<[number, string]>, string]> = [
      [[[2, e2], [1, e1]], 'InvalidPartOrder'],
      [[[1, e1], [1, e1]], 'InvalidPartOrder'],
      [[[1, '"0123456789abcdef0123456789abcdef"'], [2, e2]], 'InvalidPart'],
      [[[1, e1], [3, e2]], 'InvalidPart'],
      [[[1, e1], [2, e2]], 'EntityTooSmall'],
    ]
    for (const [parts, code] of cases) {
      const r = await c.request('POST', `/mpu/checked?uploadId=${id}`, { body: completeDoc(parts) })
      assert.equal(r.status, 400, code)
      assert.equal(xmlText(r.text, 'Code'), code)
    }
    const malformed = await c.request('POST', `/mpu/checked?uploadId=${id}`, { body: '<CompleteMultipartUpload></CompleteMultipartUpload>' })
    assert.equal(xmlText(malformed.text, 'Code'), 'MalformedXML')
    assert.equal((await c.request('HEAD', '/mpu/checked')).status, 404)
    // A single small part is fine: the last part has no minimum.
    const ok = await c.request('POST', `/mpu/checked?uploadId=${id}`, { body: completeDoc([[1, e1]]) })
    assert.equal(ok.status, 200, ok.text)
    assert.equal((await c.request('GET', '/mpu/checked')).body.length, 100)
  })

  it('aborts: parts and marker go, the upload is then unknown', async () => {
    const id = await initiate('aborted')
    await part('aborted', id, 1, Buffer.alloc(10))
    await part('aborted', id, 2, Buffer.alloc(10))
    assert.ok(segments().some((n) => n.startsWith('aborted/')))
    assert.equal((await c.request('DELETE', `/mpu/aborted?uploadId=${id}`)).status, 204)
    assert.ok(!segments().some((n) => n.startsWith('aborted/')))
    for (const [method, path] of [['PUT', `/mpu/aborted?partNumber=1&uploadId=${id}`], ['DELETE', `/mpu/aborted?uploadId=${id}`],
      ['GET', `/mpu/aborted?uploadId=${id}`], ['POST', `/mpu/aborted?uploadId=${id}`]] as const) {
      const r = await c.request(method, path, method === 'POST' ? { body: completeDoc([[1, '"x"']]) } : method === 'PUT' ? { body: 'x' } : {})
      assert.equal(r.status, 404, `${method} ${path}`)
      assert.equal(xmlText(r.text, 'Code'), 'NoSuchUpload')
    }
    assert.ok(!segments().some((n) => n.startsWith('aborted/')))
  })

  it('refuses part numbers outside 1..10000 and unknown upload ids', async () => {
    const id = await initiate('numbers')
    for (const n of ['0', '10001', 'x']) {
      const r = await c.request('PUT', `/mpu/numbers?partNumber=${n}&uploadId=${id}`, { body: 'x' })
      assert.equal(xmlText(r.text, 'Code'), 'InvalidArgument', n)
    }
    const unknown = await c.request('PUT', '/mpu/numbers?partNumber=1&uploadId=ffffffffffffffffffffffffffffffff', { body: 'x' })
    assert.equal(xmlText(unknown.text, 'Code'), 'NoSuchUpload')
    assert.equal((await c.request('DELETE', `/mpu/numbers?uploadId=${id}`)).status, 204)
  })

  it('copies a range of an object into a part', async () => {
    await c.request('PUT', '/mpu/source', { body: Buffer.alloc(MIN * 2, 5) })
    const id = await initiate('copied')
    const r = await c.request('PUT', `/mpu/copied?partNumber=1&uploadId=${id}`,
      { headers: { 'x-amz-copy-source': '/mpu/source', 'x-amz-copy-source-range': `bytes=0-${MIN - 1}` } })
    assert.equal(r.status, 200, r.text)
    assert.match(r.text, /<CopyPartResult xmlns=/)
    const e2 = await part('copied', id, 2, Buffer.from('tail'))
    const done = await c.request('POST', `/mpu/copied?uploadId=${id}`, { body: completeDoc([[1, xmlText(r.text, 'ETag')!], [2, e2]]) })
    assert.equal(done.status, 200, done.text)
    const got = await c.request('GET', '/mpu/copied')
    assert.equal(got.body.length, MIN + 4)
    const bad = await c.request('PUT', `/mpu/copied2?partNumber=1&uploadId=${id}`,
      { headers: { 'x-amz-copy-source': '/mpu/source', 'x-amz-copy-source-range': 'bytes=5-2' } })
    assert.equal(xmlText(bad.text, 'Code'), 'InvalidArgument')
  })

  it('lists uploads by prefix and delimiter, one page at a time', async () => {
    const ids = [await initiate('dir/a'), await initiate('dir/b'), await initiate('dir/sub/c'), await initiate('other')]
    const grouped = await c.request('GET', '/mpu?uploads&prefix=dir%2F&delimiter=%2F')
    assert.deepEqual(xmlTexts(grouped.text, 'Key'), ['dir/a', 'dir/b'])
    assert.match(grouped.text, /<CommonPrefixes><Prefix>dir\/sub\/<\/Prefix><\/CommonPrefixes>/)
    const p1 = await c.request('GET', '/mpu?uploads&max-uploads=1')
    assert.equal(xmlText(p1.text, 'IsTruncated'), 'true')
    const next = xmlText(p1.text, 'NextKeyMarker')!
    const nextId = xmlText(p1.text, 'NextUploadIdMarker')!
    const p2 = await c.request('GET', `/mpu?uploads&max-uploads=10&key-marker=${encodeURIComponent(next)}&upload-id-marker=${nextId}`)
    assert.equal(xmlTexts(p1.text, 'UploadId').length + xmlTexts(p2.text, 'UploadId').length, 4)
    for (const [i, key] of ['dir/a', 'dir/b', 'dir/sub/c', 'other'].entries()) {
      assert.equal((await c.request('DELETE', `/mpu/${key}?uploadId=${ids[i]}`)).status, 204)
    }
  })

  it('deleting the bucket aborts uploads in progress', async () => {
    await c.request('PUT', '/mpu2')
    const r = await c.request('POST', '/mpu2/k?uploads')
    const id = xmlText(r.text, 'UploadId')
    await c.request('PUT', `/mpu2/k?partNumber=1&uploadId=${id}`, { body: 'x' })
    assert.equal((await c.request('DELETE', '/mpu2')).status, 204)
    assert.deepEqual((srv.storage as FakeS3Storage).containerNames('AUTH_p-alice').filter((n) => n.startsWith('mpu2')), [])
  })
})
