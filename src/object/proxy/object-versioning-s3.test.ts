// S3 versioning over the proxy's storage (ProxyS3Storage → object versioning): the S3 handler on
// a local port, driven by the SigV4 test client, as s3api over object_versioning behaves.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { type S3TestClient, type S3TestServer, startS3TestServer, xmlText, xmlTexts } from '../s3/testing.ts'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

const MIN = 5 * 1024
let f: SwiftFixture
let srv: S3TestServer
let c: S3TestClient
before(async () => {
  f = await swiftFixture()
  srv = await startS3TestServer({ storage: f.store.s3Storage, minPartSize: MIN })
  c = srv.client()
})
after(async () => {
  await srv.close()
  await f.close()
  assert.deepEqual(srv.errors, [], 'no request failed with a 500')
})

const md5 = (s: string | Buffer) => createHash('md5').update(s).digest('hex')
const ENABLED = '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>'
const SUSPENDED = '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Suspended</Status></VersioningConfiguration>'

async function bucket(name: string, versioned = true) {
  assert.equal((await c.request('PUT', `/${name}`)).status, 200)
  if (versioned) assert.equal((await c.request('PUT', `/${name}?versioning`, { body: ENABLED })).status, 200)
}

async function put(path: string, body: string | Buffer): Promise<string> {
  const r = await c.request('PUT', path, { body })
  assert.equal(r.status, 200, r.text)
  return r.headers['x-amz-version-id'] as string
}

/** The <Version>/<DeleteMarker> entries of a ListVersionsResult, in order. */
function entries(xml: string): Array<{ tag: string; key: string; id: string; latest: string; etag?: string; size?: string }> {
  return [...xml.matchAll(/<(Version|DeleteMarker)>(.*?)<\/\1>/g)].map((m) => ({
    tag: m[1]!, key: xmlText(m[2]!, 'Key')!, id: xmlText(m[2]!, 'VersionId')!, latest: xmlText(m[2]!, 'IsLatest')!,
    ...(m[1] === 'Version' ? { etag: xmlText(m[2]!, 'ETag')!, size: xmlText(m[2]!, 'Size')! } : {}),
  }))
}

describe('S3 versioning on the proxy', () => {
  it('reports and sets the bucket versioning state', async () => {
    await bucket('vstate', false)
    const none = await c.request('GET', '/vstate?versioning')
    assert.equal(none.status, 200)
    assert.equal(xmlText(none.text, 'Status'), undefined)
    assert.equal((await c.request('PUT', '/vstate?versioning', { body: ENABLED })).status, 200)
    assert.equal(xmlText((await c.request('GET', '/vstate?versioning')).text, 'Status'), 'Enabled')
    assert.equal((await c.request('PUT', '/vstate?versioning', { body: SUSPENDED })).status, 200)
    assert.equal(xmlText((await c.request('GET', '/vstate?versioning')).text, 'Status'), 'Suspended')
  })

  it('keeps versions, reads them by id, and deletes with markers', async () => {
    await bucket('vbk')
    const v1 = await put('/vbk/k', 'first')
    const v2 = await put('/vbk/k', 'second!')
    assert.ok(v1 && v2 && v2 > v1)
    const cur = await c.request('GET', '/vbk/k')
    assert.equal(cur.text, 'second!')
    assert.equal(cur.headers['x-amz-version-id'], v2)
    assert.equal(cur.headers.etag, `"${md5('second!')}"`)
    const old = await c.request('GET', `/vbk/k?versionId=${v1}`)
    assert.equal(old.text, 'first')
    assert.equal(old.headers['x-amz-version-id'], v1)
    const head = await c.request('HEAD', `/vbk/k?versionId=${v1}`)
    assert.equal(head.headers['content-length'], '5')
    assert.equal((await c.request('GET', '/vbk/k?versionId=1000000000.00000')).status, 404)
    assert.equal(xmlText((await c.request('GET', '/vbk/k?versionId=1000000000.00000')).text, 'Code'), 'NoSuchVersion')

    const list = await c.request('GET', '/vbk?versions')
    assert.equal(list.status, 200, list.text)
    assert.deepEqual(entries(list.text), [
      { tag: 'Version', key: 'k', id: v2, latest: 'true', etag: `"${md5('second!')}"`, size: '7' },
      { tag: 'Version', key: 'k', id: v1, latest: 'false', etag: `"${md5('first')}"`, size: '5' },
    ])
    // The plain listing shows the current version.
    const plain = await c.request('GET', '/vbk?list-type=2')
    assert.deepEqual(xmlTexts(plain.text, 'Key'), ['k'])
    assert.equal(xmlText(plain.text, 'Size'), '7')
    assert.equal(xmlText(plain.text, 'ETag'), `"${md5('second!')}"`)

    const del = await c.request('DELETE', '/vbk/k')
    assert.equal(del.status, 204)
    assert.equal(del.headers['x-amz-delete-marker'], 'true')
    const marker = del.headers['x-amz-version-id'] as string
    assert.ok(marker > v2)
    assert.equal((await c.request('GET', '/vbk/k')).status, 404)
    const onMarker = await c.request('GET', `/vbk/k?versionId=${marker}`)
    assert.equal(onMarker.status, 405)
    assert.equal(onMarker.headers['x-amz-delete-marker'], 'true')
    assert.deepEqual(entries((await c.request('GET', '/vbk?versions')).text).map((e) => [e.tag, e.id, e.latest]),
      [['DeleteMarker', marker, 'true'], ['Version', v2, 'false'], ['Version', v1, 'false']])
    assert.deepEqual(xmlTexts((await c.request('GET', '/vbk?list-type=2')).text, 'Key'), [])

    // Removing the marker brings the newest version back; deleting that one, the one before.
    const unmark = await c.request('DELETE', `/vbk/k?versionId=${marker}`)
    assert.equal(unmark.status, 204)
    assert.equal(unmark.headers['x-amz-delete-marker'], 'true')
    assert.equal((await c.request('GET', '/vbk/k')).text, 'second!')
    assert.equal((await c.request('DELETE', `/vbk/k?versionId=${v2}`)).status, 204)
    const back = await c.request('GET', '/vbk/k')
    assert.equal(back.text, 'first')
    assert.equal(back.headers['x-amz-version-id'], v1)
    assert.deepEqual(entries((await c.request('GET', '/vbk?versions')).text).map((e) => [e.id, e.latest]), [[v1, 'true']])
  })

  it('pages the versions listing with key and version-id markers', async () => {
    await bucket('vpages')
    const a = [await put('/vpages/a', '1'), await put('/vpages/a', '2'), await put('/vpages/a', '3')]
    await put('/vpages/b', 'b')
    const p1 = await c.request('GET', '/vpages?versions&max-keys=2')
    assert.deepEqual(entries(p1.text).map((e) => e.id), [a[2], a[1]])
    assert.equal(xmlText(p1.text, 'IsTruncated'), 'true')
    assert.equal(xmlText(p1.text, 'NextKeyMarker'), 'a')
    assert.equal(xmlText(p1.text, 'NextVersionIdMarker'), a[1])
    const p2 = await c.request('GET', `/vpages?versions&max-keys=2&key-marker=a&version-id-marker=${a[1]}`)
    assert.deepEqual(entries(p2.text).map((e) => [e.key, e.id === a[0]]), [['a', true], ['b', false]])
    assert.equal(xmlText(p2.text, 'IsTruncated'), 'false')
  })

  it('writes null versions while suspended and keeps the old ones', async () => {
    await bucket('vsusp')
    const v1 = await put('/vsusp/o', 'one')
    await c.request('PUT', '/vsusp?versioning', { body: SUSPENDED })
    const r = await c.request('PUT', '/vsusp/o', { body: 'two' })
    assert.equal(r.headers['x-amz-version-id'], undefined)
    const cur = await c.request('GET', '/vsusp/o')
    assert.equal(cur.text, 'two')
    assert.equal(cur.headers['x-amz-version-id'], 'null')
    assert.equal((await c.request('GET', '/vsusp/o?versionId=null')).text, 'two')
    assert.deepEqual(entries((await c.request('GET', '/vsusp?versions')).text).map((e) => [e.id, e.latest]),
      [['null', 'true'], [v1, 'false']])
    assert.equal((await c.request('GET', `/vsusp/o?versionId=${v1}`)).text, 'one')
  })

  it('copies a given source version and versions the copy', async () => {
    await bucket('vcopy')
    const v1 = await put('/vcopy/src', 'source-1')
    await put('/vcopy/src', 'source-2')
    const cp = await c.request('PUT', '/vcopy/dst', { headers: { 'x-amz-copy-source': `/vcopy/src?versionId=${v1}` } })
    assert.equal(cp.status, 200, cp.text)
    assert.equal(cp.headers['x-amz-copy-source-version-id'], v1)
    assert.ok(cp.headers['x-amz-version-id'])
    assert.equal((await c.request('GET', '/vcopy/dst')).text, 'source-1')
  })

  it('deletes versions in bulk and the bucket only once no version is left', async () => {
    await bucket('vgone')
    const v1 = await put('/vgone/x', 'x1')
    const d = await c.request('DELETE', '/vgone/x')
    const marker = d.headers['x-amz-version-id'] as string
    const refused = await c.request('DELETE', '/vgone')
    assert.equal(refused.status, 409)
    assert.match(refused.text, /delete all versions/)
    const body = '<Delete><Object><Key>x</Key><VersionId>' + v1 + '</VersionId></Object><Object><Key>x</Key><VersionId>' + marker +
      '</VersionId></Object></Delete>'
    const md = createHash('md5').update(body).digest('base64')
    const bulk = await c.request('POST', '/vgone?delete', { body, headers: { 'content-md5': md } })
    assert.equal(bulk.status, 200, bulk.text)
    assert.deepEqual(xmlTexts(bulk.text, 'VersionId').sort(), [v1, marker].sort())
    assert.equal(xmlText(bulk.text, 'DeleteMarkerVersionId'), marker)
    assert.deepEqual(entries((await c.request('GET', '/vgone?versions')).text), [])
    assert.equal((await c.request('DELETE', '/vgone')).status, 204)
    assert.equal((await c.request('HEAD', '/vgone')).status, 404)
  })

  it('versions multipart uploads, and a deleted manifest version takes its segments', async () => {
    await bucket('vmpu')
    const v1 = await put('/vmpu/big', 'small first')
    const init = await c.request('POST', '/vmpu/big?uploads')
    const id = xmlText(init.text, 'UploadId')!
    const p1 = Buffer.alloc(MIN, 7)
    const p2 = Buffer.alloc(10, 8)
    const e1 = (await c.request('PUT', `/vmpu/big?partNumber=1&uploadId=${id}`, { body: p1 })).headers.etag
    const e2 = (await c.request('PUT', `/vmpu/big?partNumber=2&uploadId=${id}`, { body: p2 })).headers.etag
    const doc = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${e1}</ETag></Part>` +
      `<Part><PartNumber>2</PartNumber><ETag>${e2}</ETag></Part></CompleteMultipartUpload>`
    const done = await c.request('POST', `/vmpu/big?uploadId=${id}`, { body: doc })
    assert.equal(done.status, 200, done.text)
    const etag = xmlText(done.text, 'ETag')!.replace(/&quot;/g, '"')
    const got = await c.request('GET', '/vmpu/big')
    assert.equal(got.body.length, MIN + 10)
    assert.ok(got.body.equals(Buffer.concat([p1, p2])))
    const mv = got.headers['x-amz-version-id'] as string
    assert.ok(mv > v1)
    assert.equal(got.headers.etag, etag)
    const list = entries((await c.request('GET', '/vmpu?versions')).text)
    assert.deepEqual(list.map((e) => [e.id, e.latest, e.size, e.etag]), [[mv, 'true', String(MIN + 10), etag], [v1, 'false', '11', `"${md5('small first')}"`]])
    assert.equal(xmlText((await c.request('GET', '/vmpu?list-type=2')).text, 'ETag'), etag)
    // A delete marker keeps the segments; deleting the manifest version frees them.
    await c.request('DELETE', '/vmpu/big')
    assert.ok(((await f.store.s3Storage.listObjects('AUTH_p-alice', 'vmpu+segments', { limit: 100 })) as { rows: unknown[] }).rows.length > 0)
    assert.equal((await c.request('GET', `/vmpu/big?versionId=${mv}`)).body.length, MIN + 10)
    assert.equal((await c.request('DELETE', `/vmpu/big?versionId=${mv}`)).status, 204)
    assert.deepEqual(((await f.store.s3Storage.listObjects('AUTH_p-alice', 'vmpu+segments', { limit: 100 })) as { rows: unknown[] }).rows, [])
    assert.equal((await c.request('GET', `/vmpu/big?versionId=${v1}`)).text, 'small first')
  })
})
