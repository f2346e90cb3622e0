// The S3Storage contract as a test suite: every implementation (the in-memory fake, the proxy's
// adapter) runs it, so the S3 layer can rely on the same behaviour from each (STYLE: one
// conformance suite per interface). Call it from a *.test.ts file:
//   s3StorageConformance('fake', async () => ({ storage: new FakeS3Storage() }))
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import type { GetResult, S3Storage } from './port.ts'

/** What the suite needs: a fresh storage (and how to dispose of it). */
export interface ConformanceSubject { storage: S3Storage; close?: () => Promise<void> }

const md5 = (s: string | Buffer) => createHash('md5').update(s).digest('hex')
const body = (s: string | Buffer) => Readable.from([Buffer.from(s)])

async function read(g: GetResult): Promise<Buffer> {
  assert.equal(g.status, 'ok')
  if (g.status !== 'ok') throw new Error('unreachable')
  const chunks: Buffer[] = []
  for await (const c of g.body as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

/** A body that fails the test if anything reads it. */
function untouchable(): Readable {
  return new Readable({ read() { throw new Error('the body was read') } })
}

/** Runs the S3Storage conformance suite against `make()`'s storage. */
export function s3StorageConformance(name: string, make: () => Promise<ConformanceSubject>): void {
  describe(`S3Storage conformance: ${name}`, () => {
    let subject: ConformanceSubject
    let st: S3Storage
    const A = 'AUTH_conformance'
    before(async () => {
      subject = await make()
      st = subject.storage
    })
    after(async () => { await subject.close?.() })

    it('creates, describes, lists and deletes containers', async () => {
      assert.equal(await st.createBucket(A, 'c1', { acl: 'public-read' }), 'created')
      assert.equal(await st.createBucket(A, 'c1', { acl: 'private' }), 'exists')
      const info = await st.headBucket(A, 'c1')
      assert.deepEqual(info?.metadata, { acl: 'public-read' })
      assert.equal(info?.objectCount, 0)
      assert.ok(info!.createdAt instanceof Date)
      assert.equal(await st.setBucketMetadata(A, 'c1', { cors: '[]', acl: null }), 'ok')
      assert.deepEqual((await st.headBucket(A, 'c1'))?.metadata, { cors: '[]' })
      assert.equal(await st.setBucketMetadata(A, 'nope', { x: 'y' }), 'not-found')
      await st.createBucket(A, 'c0', {})
      assert.deepEqual((await st.listBuckets(A)).map((b) => b.name), ['c0', 'c1'])
      await st.putObject(A, 'c1', 'o', body('x'), { contentType: 'text/plain', metadata: {} })
      assert.equal(await st.deleteBucket(A, 'c1'), 'not-empty')
      assert.equal(await st.deleteBucket(A, 'c0'), 'deleted')
      assert.equal(await st.deleteBucket(A, 'c0'), 'not-found')
      assert.equal(await st.headBucket(A, 'c0'), undefined)
    })

    it('stores an object with metadata, sysmeta and headers, and reads it back', async () => {
      const r = await st.putObject(A, 'c1', 'k', body('hello world'), { contentType: 'text/x', contentLength: 11, md5: md5('hello world'),
        metadata: { color: 'blue' }, sysmeta: { acl: 'public-read' }, headers: { 'cache-control': 'no-cache' } })
      assert.equal(r.status, 'created')
      assert.equal(r.status === 'created' && r.etag, md5('hello world'))
      const g = await st.getObject(A, 'c1', 'k')
      assert.equal(g.status === 'ok' && g.info.bytes, 11)
      if (g.status === 'ok') {
        assert.deepEqual({ ...g.info, lastModified: undefined }, { etag: md5('hello world'), bytes: 11, contentType: 'text/x',
          lastModified: undefined, metadata: { color: 'blue' }, sysmeta: { acl: 'public-read' }, headers: { 'cache-control': 'no-cache' } })
      }
      assert.equal((await read(g)).toString(), 'hello world')
      const h = await st.headObject(A, 'c1', 'k')
      assert.equal(h.status === 'ok' && h.info.etag, md5('hello world'))
      assert.equal(await st.setObjectSysmeta(A, 'c1', 'k', { acl: null, 'upload-id': 'u' }), 'ok')
      const h2 = await st.headObject(A, 'c1', 'k')
      assert.deepEqual(h2.status === 'ok' && h2.info.sysmeta, { 'upload-id': 'u' })
      assert.deepEqual(h2.status === 'ok' && h2.info.metadata, { color: 'blue' })
      assert.equal(await st.setObjectSysmeta(A, 'c1', 'missing', { a: 'b' }), 'not-found')
      assert.deepEqual(await st.getObject(A, 'c1', 'missing'), { status: 'not-found' })
      assert.deepEqual(await st.getObject(A, 'nocontainer', 'k'), { status: 'not-found' })
    })

    it('stores nothing from a bad upload', async () => {
      const bad = await st.putObject(A, 'c1', 'bad', body('data'), { contentType: 't', metadata: {}, md5: md5('other') })
      assert.equal(bad.status, 'bad-digest')
      const failing = new Readable({ read() { this.push(Buffer.from('part')); this.destroy(new Error('client went away')) } })
      await assert.rejects(st.putObject(A, 'c1', 'bad', failing, { contentType: 't', metadata: {} }), /client went away/)
      await assert.rejects(st.putObject(A, 'c1', 'bad', body('short'), { contentType: 't', metadata: {}, contentLength: 9 }))
      assert.deepEqual(await st.headObject(A, 'c1', 'bad'), { status: 'not-found' })
      assert.deepEqual(await st.putObject(A, 'nocontainer', 'k', untouchable(), { contentType: 't', metadata: {} }), { status: 'no-bucket' })
    })

    it('honours If-None-Match: * on writes', async () => {
      const first = await st.putObject(A, 'c1', 'once', body('1'), { contentType: 't', metadata: {}, ifNoneMatch: '*' })
      assert.equal(first.status, 'created')
      const second = await st.putObject(A, 'c1', 'once', body('2'), { contentType: 't', metadata: {}, ifNoneMatch: '*' })
      assert.equal(second.status, 'precondition-failed')
      assert.equal((await read(await st.getObject(A, 'c1', 'once'))).toString(), '1')
    })

    it('serves ranges and evaluates conditions', async () => {
      await st.putObject(A, 'c1', 'digits', body('0123456789'), { contentType: 't', metadata: {} })
      const r = await st.getObject(A, 'c1', 'digits', { range: { first: 2, last: 4 } })
      assert.deepEqual(r.status === 'ok' && r.range, { start: 2, end: 4 })
      assert.equal((await read(r)).toString(), '234')
      assert.equal((await read(await st.getObject(A, 'c1', 'digits', { range: { suffix: 3 } }))).toString(), '789')
      assert.equal((await st.getObject(A, 'c1', 'digits', { range: { first: 10 } })).status, 'range-not-satisfiable')
      const etag = md5('0123456789')
      assert.equal((await st.getObject(A, 'c1', 'digits', { conditions: { ifMatch: ['x'] } })).status, 'precondition-failed')
      assert.equal((await st.getObject(A, 'c1', 'digits', { conditions: { ifNoneMatch: [etag] } })).status, 'not-modified')
      assert.equal((await st.headObject(A, 'c1', 'digits', { conditions: { ifNoneMatch: ['*'] } })).status, 'not-modified')
      const ok = await st.getObject(A, 'c1', 'digits', { conditions: { ifMatch: [etag] } })
      assert.equal((await read(ok)).length, 10)
    })

    it('lists like Swift: prefix, delimiter, markers, limit, reverse', async () => {
      await st.createBucket(A, 'lst', {})
      for (const n of ['a', 'b/1', 'b/2', 'c/x/1', 'd']) await st.putObject(A, 'lst', n, body(n), { contentType: 'text/plain', metadata: {} })
      const names = async (o: Parameters<S3Storage['listObjects']>[2]) => {
        const r = await st.listObjects(A, 'lst', o)
        assert.equal(r.status, 'ok')
        return r.status === 'ok' ? r.rows.map((x) => ('subdir' in x ? `[${x.subdir}]` : x.name)) : []
      }
      assert.deepEqual(await names({ limit: 100 }), ['a', 'b/1', 'b/2', 'c/x/1', 'd'])
      assert.deepEqual(await names({ limit: 2 }), ['a', 'b/1'])
      assert.deepEqual(await names({ limit: 100, delimiter: '/' }), ['a', '[b/]', '[c/]', 'd'])
      assert.deepEqual(await names({ limit: 100, delimiter: '/', marker: 'b/' }), ['[c/]', 'd'])
      assert.deepEqual(await names({ limit: 100, prefix: 'c/', delimiter: '/' }), ['[c/x/]'])
      assert.deepEqual(await names({ limit: 100, marker: 'a', endMarker: 'c' }), ['b/1', 'b/2'])
      assert.deepEqual(await names({ limit: 100, reverse: true }), ['d', 'c/x/1', 'b/2', 'b/1', 'a'])
      const r = await st.listObjects(A, 'lst', { limit: 1 })
      assert.ok(r.status === 'ok' && !('subdir' in r.rows[0]!) && r.rows[0]!.hash === md5('a') && r.rows[0]!.bytes === 1 &&
        r.rows[0]!.contentType === 'text/plain' && r.rows[0]!.lastModified instanceof Date)
      assert.deepEqual(await st.listObjects(A, 'nocontainer', { limit: 1 }), { status: 'no-bucket' })
    })

    it('stores manifests that read as their segments, checked', async () => {
      await st.createBucket(A, 'm+segments', {})
      const parts = ['first-', 'second-', 'third']
      for (const [i, p] of parts.entries()) await st.putObject(A, 'm+segments', `k/u/${i}`, body(p), { contentType: 'x', metadata: {} })
      const manifest = { etag: 'abc-3', bytes: parts.join('').length,
        segments: parts.map((p, i) => ({ container: 'm+segments', object: `k/u/${i}`, etag: md5(p), bytes: p.length })) }
      const r = await st.putManifest(A, 'c1', 'big', manifest, { contentType: 'a/b', metadata: { m: '1' }, sysmeta: { 'upload-id': 'u' } })
      assert.equal(r.status === 'created' && r.etag, 'abc-3')
      const g = await st.getObject(A, 'c1', 'big')
      assert.equal(g.status === 'ok' && g.info.etag, 'abc-3')
      assert.equal((await read(g)).toString(), 'first-second-third')
      assert.equal((await read(await st.getObject(A, 'c1', 'big', { range: { first: 4, last: 8 } }))).toString(), 't-sec')
      const listed = await st.listObjects(A, 'c1', { limit: 100, prefix: 'big' })
      assert.ok(listed.status === 'ok' && !('subdir' in listed.rows[0]!) && listed.rows[0]!.hash === 'abc-3' && listed.rows[0]!.bytes === 18)
      // A changed segment fails the read rather than serving other bytes.
      await st.putObject(A, 'm+segments', 'k/u/1', body('SECOND-'), { contentType: 'x', metadata: {} })
      await assert.rejects(read(await st.getObject(A, 'c1', 'big')))
      const d = await st.deleteObject(A, 'c1', 'big')
      assert.equal(d.status, 'deleted')
      assert.deepEqual(d.status === 'deleted' && d.manifest?.segments.map((s) => s.object), ['k/u/0', 'k/u/1', 'k/u/2'])
      assert.deepEqual(await st.deleteObject(A, 'c1', 'big'), { status: 'not-found' })
      assert.deepEqual(await st.deleteObject(A, 'nocontainer', 'big'), { status: 'no-bucket' })
    })
  })
}
