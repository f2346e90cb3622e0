// Bulk delete and archive extraction through the whole proxy (swiftFixture: identity, the
// default pipeline, real storage servers), plus the response formats and the heartbeat.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { pack } from 'tar-stream'
import { type BulkResult, bulkAnswer, pyQuote, pyUnquoteBytes, renderBulkResult } from './bulk-response.ts'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let A: string
before(async () => { f = await swiftFixture(); A = `/v1/${f.account}` })
after(async () => { await f?.close() })

const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex')

/** A tar archive of the given entries (files unless a type is given). */
async function tarOf(entries: { name: string; body?: string | Buffer; type?: 'directory' | 'symlink'; pax?: Record<string, string> }[]): Promise<Buffer> {
  const p = pack()
  for (const e of entries) {
    if (e.type === 'directory') p.entry({ name: e.name, type: 'directory' })
    else if (e.type === 'symlink') p.entry({ name: e.name, type: 'symlink', linkname: 'elsewhere' })
    else p.entry({ name: e.name, ...(e.pax ? { pax: e.pax } : {}) }, e.body ?? '')
  }
  p.finalize()
  const chunks: Buffer[] = []
  for await (const c of p as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

const json = (body: string) => JSON.parse(body) as Record<string, unknown>

describe('bulk: /info', () => {
  it('publishes bulk_delete and bulk_upload with Swift keys and defaults', async () => {
    const info = JSON.parse((await f.call('GET', '/info', { token: null })).body)
    assert.deepEqual(info.bulk_delete, { max_deletes_per_request: 10000, max_failed_deletes: 1000 })
    assert.deepEqual(info.bulk_upload, { max_containers_per_extraction: 10000, max_failed_extractions: 1000 })
  })
})

describe('bulk delete', () => {
  it('deletes objects then their container; counts missing names; JSON as Swift', async () => {
    await f.call('PUT', `${A}/bd1`)
    for (const n of ['a', 'b/c', 'sp ace']) assert.equal((await f.call('PUT', `${A}/bd1/${encodeURIComponent(n)}`, { body: n })).statusCode, 201)
    // The container comes first in the list: it is still deleted after its objects.
    const body = '/bd1\n/bd1/a\nbd1/b%2Fc\n/bd1/sp%20ace\n/bd1/missing\n\n'
    const r = await f.call('DELETE', `${A}?bulk-delete`, { headers: { accept: 'application/json', 'content-type': 'text/plain' }, body })
    assert.equal(r.statusCode, 200)
    assert.equal(r.headers['content-type'], 'application/json')
    assert.equal(r.body, '{"Response Status": "200 OK", "Response Body": "", "Number Deleted": 4, "Number Not Found": 1, "Errors": []}')
    assert.equal((await f.call('HEAD', `${A}/bd1`)).statusCode, 404)
  })

  it('POST works too; text/plain by default, XML on request', async () => {
    await f.call('PUT', `${A}/bd2`)
    await f.call('PUT', `${A}/bd2/x`, { body: 'x' })
    const t = await f.call('POST', `${A}?bulk-delete`, { body: '/bd2/x\n/bd2/nope' })
    assert.equal(t.statusCode, 200)
    assert.equal(t.headers['content-type'], 'text/plain')
    assert.equal(t.body, 'Number Deleted: 1\nNumber Not Found: 1\nResponse Body: \nResponse Status: 200 OK\nErrors:\n')
    const x = await f.call('POST', `${A}?bulk-delete`, { headers: { accept: 'application/xml' }, body: '/bd2/x\n/bd2' })
    assert.equal(x.headers['content-type'], 'application/xml')
    assert.equal(x.body, '<delete>\n<number_deleted>1</number_deleted>\n<number_not_found>1</number_not_found>\n' +
      '<response_body></response_body>\n<response_status>200 OK</response_status>\n<errors>\n</errors>\n</delete>\n')
  })

  it('reports forbidden and unauthorized items with Swift status lines; a non-empty container is 409', async () => {
    await f.call('PUT', `${A}/bd3`)
    await f.call('PUT', `${A}/bd3/o1`, { body: '1' })
    const bob = await f.user('bulk-bob')
    const r = await f.call('POST', `${A}?bulk-delete`, { token: bob.token, headers: { accept: 'application/json' }, body: '/bd3/o1\n/bd3/%E2%98%83' })
    assert.deepEqual(json(r.body), { 'Response Status': '400 Bad Request', 'Response Body': '', 'Number Deleted': 0, 'Number Not Found': 0,
      Errors: [['/bd3/o1', '403 Forbidden'], ['/bd3/%E2%98%83', '403 Forbidden']] })
    const anon = await f.call('POST', `${A}?bulk-delete`, { token: null, headers: { accept: 'application/json' }, body: '/bd3/o1' })
    assert.deepEqual(json(anon.body).Errors, [['/bd3/o1', '401 Unauthorized']])
    assert.equal((await f.call('HEAD', `${A}/bd3/o1`)).statusCode, 200)
    const busy = await f.call('POST', `${A}?bulk-delete`, { headers: { accept: 'application/json' }, body: '/bd3' })
    assert.deepEqual(json(busy.body).Errors, [['/bd3', '409 Conflict']])
    assert.equal(json(busy.body)['Response Status'], '400 Bad Request')
  })

  it('invalid UTF-8 names fail with 412; an empty list is "Invalid bulk delete."', async () => {
    const r = await f.call('POST', `${A}?bulk-delete`, { headers: { accept: 'application/json' }, body: '/c/%FF\n/c/%00' })
    assert.deepEqual(json(r.body).Errors, [['/c/%FF', '412 Precondition Failed'], ['/c/%00', '412 Precondition Failed']])
    const e = await f.call('POST', `${A}?bulk-delete`, { headers: { accept: 'application/json', 'content-length': '0' } })
    assert.equal(json(e.body)['Response Status'], '400 Bad Request')
    assert.equal(json(e.body)['Response Body'], 'Invalid bulk delete.')
  })

  it('refuses other content types (406), unknown Accept (406), too many names (413), overlong lines (400)', async () => {
    const ct = await f.call('POST', `${A}?bulk-delete`, { headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '/a/b' })
    assert.equal(json(ct.body)['Response Status'], '406 Not Acceptable')
    const acc = await f.call('POST', `${A}?bulk-delete`, { headers: { accept: 'image/png' }, body: '/a/b' })
    assert.equal(acc.statusCode, 200)
    assert.match(acc.body, /^Number Deleted: 0\nNumber Not Found: 0\nResponse Body: <html><h1>Not Acceptable<\/h1>.*\nResponse Status: 406 Not Acceptable\nErrors:\n$/)
    const many = await f.call('POST', `${A}?bulk-delete`, { headers: { accept: 'application/json' }, body: '\n'.repeat(10001) })
    assert.equal(json(many.body)['Response Status'], '413 Request Entity Too Large')
    assert.equal(json(many.body)['Response Body'], 'Maximum Bulk Deletes: 10000 per request')
    const long = await f.call('POST', `${A}?bulk-delete`, { headers: { accept: 'application/json' }, body: 'x'.repeat(3000) })
    assert.equal(json(long.body)['Response Body'], 'Invalid File Name')
  })
})

describe('extract archive', () => {
  it('creates containers and objects from a tar with nested directories; skips top-level files, dirs, links', async () => {
    const big = randomBytes(700 * 1024) // streamed, not read ahead
    const tar = await tarOf([
      { name: 'ea1', type: 'directory' }, { name: 'ea1/dir/sub/file.txt', body: 'deep' }, { name: './ea1/top.txt', body: 'top' },
      { name: 'ea2/big.bin', body: big }, { name: 'toplevel.txt', body: 'ignored' }, { name: 'ea2/link', type: 'symlink' },
      { name: 'ea2/empty', body: '' },
      { name: 'ea2/meta.txt', body: 'm', pax: { 'SCHILY.xattr.user.mime_type': 'text/x-test', 'SCHILY.xattr.user.meta.color': 'blue', 'SCHILY.xattr.user.other': 'no' } },
    ])
    const r = await f.call('PUT', `${A}?extract-archive=tar`, { headers: { accept: 'application/json', 'x-object-meta-batch': '7' }, body: tar })
    assert.equal(r.statusCode, 200)
    assert.equal(r.body, '{"Response Status": "201 Created", "Response Body": "", "Number Files Created": 5, "Errors": []}')
    assert.equal((await f.call('GET', `${A}/ea1/dir/sub/file.txt`)).body, 'deep')
    assert.equal((await f.call('GET', `${A}/ea1/top.txt`)).body, 'top')
    const b = await f.call('GET', `${A}/ea2/big.bin`)
    assert.equal(md5(b.rawPayload), md5(big))
    assert.equal((await f.call('GET', `${A}/ea2/empty`)).headers['content-length'], '0')
    const m = await f.call('HEAD', `${A}/ea2/meta.txt`)
    assert.equal(m.headers['content-type'], 'text/x-test')
    assert.equal(m.headers['x-object-meta-color'], 'blue')
    assert.equal(m.headers['x-object-meta-batch'], '7')
    assert.equal((await f.call('GET', `${A}/ea2?format=json`)).body.includes('link'), false)
    assert.equal((await f.call('HEAD', `${A}/toplevel.txt`)).statusCode, 404)
  })

  it('extracts tar.gz under a container and prefix', async () => {
    const tar = gzipSync(await tarOf([{ name: 'a/1.txt', body: 'one' }, { name: 'b.txt', body: 'two' }]))
    const r = await f.call('PUT', `${A}/ea3/pre/?extract-archive=tar.gz`, { body: tar })
    assert.equal(r.headers['content-type'], 'text/plain')
    assert.equal(r.body, 'Number Files Created: 2\nResponse Body: \nResponse Status: 201 Created\nErrors:\n')
    assert.equal((await f.call('GET', `${A}/ea3?format=plain`)).body, 'pre/a/1.txt\npre/b.txt\n')
  })

  it('answers 400 Invalid Tar File for garbage, a non-gzip tar.gz and an empty body, creating nothing', async () => {
    const before = (await f.call('GET', A)).body
    const bad = await f.call('PUT', `${A}?extract-archive=tar`, { headers: { accept: 'application/json' }, body: randomBytes(4096) })
    assert.deepEqual(json(bad.body), { 'Response Status': '400 Bad Request', 'Response Body': 'Invalid Tar File: invalid header',
      'Number Files Created': 0, Errors: [] })
    const notGz = await f.call('PUT', `${A}?extract-archive=tar.gz`, { headers: { accept: 'application/json' }, body: await tarOf([{ name: 'z/a', body: 'a' }]) })
    assert.equal(json(notGz.body)['Response Body'], 'Invalid Tar File: not a gzip file')
    const empty = await f.call('PUT', `${A}?extract-archive=tar`, { headers: { accept: 'application/json', 'content-length': '0' } })
    assert.equal(json(empty.body)['Response Body'], 'Invalid Tar File: empty file')
    const none = await f.call('PUT', `${A}?extract-archive=tar`, { headers: { accept: 'application/json' }, body: await tarOf([{ name: 'top', body: 'x' }]) })
    assert.equal(json(none.body)['Response Body'], 'Invalid Tar File: No Valid Files')
    assert.equal((await f.call('GET', A)).body, before)
  })

  it('a truncated archive keeps the files before the break and stores nothing of the broken one', async () => {
    // 100 kB is read ahead, 400 kB streams into its PUT: both paths end the same way.
    for (const [c, size] of [['ea4', 100_000], ['ea4s', 400_000]] as const) {
      const full = await tarOf([{ name: `${c}/ok.txt`, body: 'fine' }, { name: `${c}/cut.bin`, body: randomBytes(size) }])
      const r = await f.call('PUT', `${A}?extract-archive=tar`, { headers: { accept: 'application/json' }, body: full.subarray(0, size / 2) })
      assert.deepEqual(json(r.body), { 'Response Status': '400 Bad Request', 'Response Body': 'Invalid Tar File: unexpected end of data',
        'Number Files Created': 1, Errors: [] })
      assert.equal((await f.call('GET', `${A}/${c}/ok.txt`)).body, 'fine')
      assert.equal((await f.call('HEAD', `${A}/${c}/cut.bin`)).statusCode, 404)
      assert.equal((await f.call('GET', `${A}/${c}?format=plain`)).body, 'ok.txt\n')
    }
  })

  it('extracts tar.bz2; a tar.bz2 that is not bzip2 is an Invalid Tar File', async () => {
    const tar = execFileSync('bzip2', ['-c'], { input: await tarOf([{ name: 'ebz/1.txt', body: 'one' }, { name: 'ebz/2.txt', body: randomBytes(300_000) }]) })
    const r = await f.call('PUT', `${A}?extract-archive=tar.bz2`, { headers: { accept: 'application/json' }, body: tar })
    assert.deepEqual(json(r.body), { 'Response Status': '201 Created', 'Response Body': '', 'Number Files Created': 2, Errors: [] })
    assert.equal((await f.call('GET', `${A}/ebz/1.txt`)).body, 'one')
    const notBz = await f.call('PUT', `${A}?extract-archive=tar.bz2`, { headers: { accept: 'application/json' }, body: await tarOf([{ name: 'ebz2/a', body: 'a' }]) })
    assert.equal(json(notBz.body)['Response Body'], 'Invalid Tar File: not a bzip2 file')
    assert.equal((await f.call('HEAD', `${A}/ebz2/a`)).statusCode, 404)
  })

  it('refuses unknown formats with a plain 400', async () => {
    const zip = await f.call('PUT', `${A}?extract-archive=zip`, { body: 'PK' })
    assert.equal(zip.statusCode, 400)
    assert.equal(zip.body, 'Unsupported archive format')
  })

  it('reports failures per file: a user without rights gets 403s, anonymous callers a 401', async () => {
    const bob = await f.user('extract-bob')
    const tar = await tarOf([{ name: 'ea5/x', body: 'x' }])
    const r = await f.call('PUT', `${A}?extract-archive=tar`, { token: bob.token, headers: { accept: 'application/json' }, body: tar })
    assert.deepEqual(json(r.body), { 'Response Status': '400 Bad Request', 'Response Body': '', 'Number Files Created': 0,
      Errors: [[`/v1/${f.account}/ea5`, '403 Forbidden'], ['ea5/x', '403 Forbidden']] })
    const anon = await f.call('PUT', `${A}?extract-archive=tar`, { token: null, headers: { accept: 'application/json' }, body: tar })
    assert.equal(json(anon.body)['Response Status'], '401 Unauthorized')
    assert.equal((await f.call('HEAD', `${A}/ea5`)).statusCode, 404)
  })
})

describe('bulk response formats and heartbeat', () => {
  const result = (): BulkResult => ({ status: 400, body: 'a < b & c', counts: { 'Number Deleted': 1, 'Number Not Found': 0 },
    errors: [['/c/<o>', '403 Forbidden']] })

  it('renders as Swift: sorted text keys, escaped XML, JSON in insertion order', () => {
    assert.equal(renderBulkResult(undefined, result(), 'delete'),
      'Number Deleted: 1\nNumber Not Found: 0\nResponse Body: a < b & c\nResponse Status: 400 Bad Request\nErrors:\n/c/<o>, 403 Forbidden\n')
    assert.equal(renderBulkResult('text/xml', result(), 'delete'), '<delete>\n<number_deleted>1</number_deleted>\n' +
      '<number_not_found>0</number_not_found>\n<response_body>a &lt; b &amp; c</response_body>\n' +
      '<response_status>400 Bad Request</response_status>\n<errors>\n' +
      '<object><name>/c/&lt;o&gt;</name><status>403 Forbidden</status></object>\n</errors>\n</delete>\n')
    assert.equal(renderBulkResult('application/json', result(), 'delete'),
      '{"Response Status": "400 Bad Request", "Response Body": "a < b & c", "Number Deleted": 1, "Number Not Found": 0, "Errors": [["/c/<o>", "403 Forbidden"]]}')
  })

  it('sends the 200 early and whitespace while a slow operation runs, then the result', async () => {
    const r = result()
    const a = await bulkAnswer('application/xml', 'delete', 30, r, () => new Promise((res) => setTimeout(res, 100)), () => {})
    assert.equal(a.status, 200)
    assert.ok(a.body && !Buffer.isBuffer(a.body))
    let text = ''
    for await (const c of a.body as AsyncIterable<Buffer>) text += c.toString()
    assert.match(text, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n +\r\n\r\n<delete>\n/)
    const quick = await bulkAnswer('application/json', 'delete', 1000, result(), async () => {}, () => {})
    assert.ok(Buffer.isBuffer(quick.body))
  })

  it('quotes and unquotes as Python', () => {
    assert.equal(pyQuote('/c/a b~(x)é'), '/c/a%20b~%28x%29%C3%A9')
    assert.equal(pyUnquoteBytes(Buffer.from('a%20b%zz%4')).toString('latin1'), 'a b%zz%4')
  })
})
