// FormPOST through the whole proxy (swiftFixture): signed browser forms uploading files into a
// container or under a prefix, Swift's limits, answers and redirects.
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { formParts, parseDisposition } from './formpost-parts.ts'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let A: string
before(async () => {
  f = await swiftFixture()
  A = `/v1/${f.account}`
  assert.equal((await f.call('POST', A, { headers: { 'x-account-meta-temp-url-key': 'akey' } })).statusCode, 204)
  assert.equal((await f.call('PUT', `${A}/fp`)).statusCode, 201)
  assert.equal((await f.call('PUT', `${A}/fc`, { headers: { 'x-container-meta-temp-url-key': 'ckey' } })).statusCode, 201)
})
after(async () => { await f?.close() })

const anon = { token: null }
const BOUNDARY = '--boundary--'

interface Form {
  /** The path the form posts to (after /v1/<account>). */
  path: string
  redirect?: string
  maxFileSize?: number | string
  maxFileCount?: number | string
  expires?: number | string
  key?: string
  algo?: string
  /** A signature to send instead of the computed one. */
  signature?: string
  /** Fields sent before the files. */
  fields?: Record<string, string>
  files: { name: string; body: string | Buffer; type?: string; headers?: Record<string, string> }[]
  /** Fields sent after the files. */
  trailing?: Record<string, string>
}

/** A multipart body as a browser sends it, signed as Swift's docs say. */
function form(o: Form): { body: Buffer; contentType: string; url: string } {
  const maxFileSize = String(o.maxFileSize ?? 1024 * 1024)
  const maxFileCount = String(o.maxFileCount ?? 10)
  const expires = String(o.expires ?? Math.floor(Date.now() / 1000) + 600)
  const redirect = o.redirect ?? ''
  const hmac = createHmac(o.algo ?? 'sha1', o.key ?? 'akey')
    .update(`${A}/${o.path}\n${redirect}\n${maxFileSize}\n${maxFileCount}\n${expires}`).digest()
  const signature = o.signature ?? (o.algo === 'sha512' ? `sha512:${hmac.toString('base64')}` : hmac.toString('hex'))
  const parts: Buffer[] = []
  const field = (name: string, value: string) => parts.push(Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`))
  field('redirect', redirect)
  field('max_file_size', maxFileSize)
  field('max_file_count', maxFileCount)
  field('expires', expires)
  field('signature', signature)
  for (const [k, v] of Object.entries(o.fields ?? {})) field(k, v)
  o.files.forEach((file, i) => {
    const extra = Object.entries(file.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('')
    parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file${i}"; filename="${file.name}"\r\n` +
      `${file.type ? `Content-Type: ${file.type}\r\n` : ''}${extra}\r\n`), Buffer.from(file.body), Buffer.from('\r\n'))
  })
  for (const [k, v] of Object.entries(o.trailing ?? {})) field(k, v)
  parts.push(Buffer.from(`--${BOUNDARY}--\r\n`))
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${BOUNDARY}`, url: `${A}/${o.path}` }
}

function post(o: Form) {
  const { body, contentType, url } = form(o)
  return f.call('POST', url, { ...anon, body, headers: { 'content-type': contentType } })
}

describe('FormPOST: uploads', () => {
  it('stores each file of a form under the form\'s path, answering 201 as text', async () => {
    const r = await post({ path: 'fp/up-', files: [
      { name: 'a.txt', body: 'first', type: 'text/plain' },
      { name: 'b.bin', body: 'second' },
    ] })
    assert.equal(r.statusCode, 201)
    assert.equal(r.body, '201 Created')
    assert.equal(r.headers['content-type'], 'text/plain')
    const a = await f.call('GET', `${A}/fp/up-a.txt`)
    assert.equal(a.body, 'first')
    assert.equal(a.headers['content-type'], 'text/plain')
    assert.equal((await f.call('GET', `${A}/fp/up-b.bin`)).body, 'second')
  })

  it('a container path stores files by their own names; fields after the files do not apply', async () => {
    const r = await post({ path: 'fp', files: [{ name: 'plain.txt', body: 'p' }], trailing: { x_delete_after: 'soon' } })
    assert.equal(r.statusCode, 201)
    assert.equal((await f.call('GET', `${A}/fp/plain.txt`)).body, 'p')
    const slash = await post({ path: 'fp/', files: [{ name: 'slash.txt', body: 's' }] })
    assert.equal(slash.statusCode, 201)
    assert.equal((await f.call('GET', `${A}/fp/slash.txt`)).body, 's')
  })

  it('streams a large file through, whole and intact', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17)
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 10)) & 0xff
    const r = await post({ path: 'fp/', maxFileSize: big.length, files: [{ name: 'big', body: big }] })
    assert.equal(r.statusCode, 201)
    const got = await f.call('GET', `${A}/fp/big`)
    assert.equal(got.rawPayload.length, big.length)
    assert.equal(createHash('md5').update(got.rawPayload).digest('hex'), createHash('md5').update(big).digest('hex'))
  })

  it('content-type/content-encoding fields apply to every file; x_delete_after makes them expire', async () => {
    const r = await post({ path: 'fp/meta-', fields: { 'content-type': 'text/csv', 'content-encoding': 'gzip', x_delete_after: '600' },
      files: [{ name: 'x', body: 'x', type: 'text/plain' }] })
    assert.equal(r.statusCode, 201)
    const h = await f.call('HEAD', `${A}/fp/meta-x`)
    assert.equal(h.headers['content-type'], 'text/csv')
    assert.equal(h.headers['content-encoding'], 'gzip')
    assert.ok(Number(h.headers['x-delete-at']) > Date.now() / 1000 + 500)
    // A part's own Content-Encoding applies to it when the form sets none.
    await post({ path: 'fp/enc-', files: [{ name: 'y', body: 'y', headers: { 'Content-Encoding': 'br' } }] })
    assert.equal((await f.call('HEAD', `${A}/fp/enc-y`)).headers['content-encoding'], 'br')
  })

  it('sha256 and sha512 signatures, and container keys for their container', async () => {
    assert.equal((await post({ path: 'fp/s256-', algo: 'sha256', files: [{ name: 'f', body: '1' }] })).statusCode, 201)
    assert.equal((await post({ path: 'fp/s512-', algo: 'sha512', files: [{ name: 'f', body: '1' }] })).statusCode, 201)
    assert.equal((await post({ path: 'fc/', key: 'ckey', files: [{ name: 'f', body: '1' }] })).statusCode, 201)
    assert.equal((await f.call('GET', `${A}/fc/f`)).body, '1')
    assert.equal((await post({ path: 'fp/', key: 'ckey', files: [{ name: 'nope', body: '1' }] })).statusCode, 401)
  })

  it('redirects to the form\'s redirect with status and message', async () => {
    const r = await post({ path: 'fp/r-', redirect: 'https://example.com/done', files: [{ name: 'f', body: 'r' }] })
    assert.equal(r.statusCode, 303)
    assert.equal(r.headers.location, 'https://example.com/done?status=201&message=')
    assert.equal(r.body, '<html><body><p><a href="https://example.com/done?status=201&message=">Click to continue...</a></p></body></html>')
    const q = await post({ path: 'fp/r-', redirect: 'https://example.com/done?x=1', maxFileCount: 1,
      files: [{ name: 'g', body: 'g' }, { name: 'h', body: 'h' }] })
    assert.equal(q.statusCode, 303)
    assert.equal(q.headers.location, 'https://example.com/done?x=1&status=400&message=max%20file%20count%20exceeded')
  })

  it('a POST that is not a form is an ordinary metadata POST', async () => {
    await f.call('PUT', `${A}/fp/plainpost`, { body: 'x' })
    assert.equal((await f.call('POST', `${A}/fp/plainpost`, { headers: { 'x-object-meta-k': 'v' } })).statusCode, 202)
    assert.equal((await f.call('POST', `${A}/fp/plainpost`, { ...anon, headers: { 'content-type': 'multipart/mixed; boundary=x' } })).statusCode, 401)
  })
})

describe('FormPOST: refusals', () => {
  it('expired forms and bad signatures are 401 with Swift\'s messages', async () => {
    const past = await post({ path: 'fp/', expires: Math.floor(Date.now() / 1000) - 1, files: [{ name: 'late', body: 'x' }] })
    assert.equal(past.statusCode, 401)
    assert.equal(past.body, 'FormPost: Form Expired')
    const wrong = await post({ path: 'fp/', key: 'wrong', files: [{ name: 'bad', body: 'x' }] })
    assert.equal(wrong.statusCode, 401)
    assert.equal(wrong.body, 'FormPost: Invalid Signature')
    assert.equal(wrong.headers['www-authenticate'], `Swift realm="${f.account}"`)
    assert.equal((await post({ path: 'fp/', signature: 'md5:AAAA', files: [{ name: 'bad', body: 'x' }] })).body, 'FormPost: Invalid Signature')
    // The signature covers the path: a form signed for fp/a- cannot write under fp/b-.
    const { body, contentType } = form({ path: 'fp/a-', files: [{ name: 'moved', body: 'x' }] })
    const moved = await f.call('POST', `${A}/fp/b-`, { ...anon, body, headers: { 'content-type': contentType } })
    assert.equal(moved.statusCode, 401)
    // No container in the path: no keys.
    assert.equal((await post({ path: '', files: [{ name: 'f', body: 'x' }] })).statusCode, 401)
    for (const n of ['late', 'bad', 'b-moved', 'a-moved']) assert.equal((await f.call('HEAD', `${A}/fp/${n}`)).statusCode, 404)
  })

  it('max_file_size is enforced while streaming: 400, and the file is not stored', async () => {
    const r = await post({ path: 'fp/', maxFileSize: 10, files: [{ name: 'ok', body: '0123456789' }, { name: 'large', body: '0123456789A' }] })
    assert.equal(r.statusCode, 400)
    assert.equal(r.body, 'FormPost: max_file_size exceeded')
    assert.equal((await f.call('GET', `${A}/fp/ok`)).body, '0123456789')
    assert.equal((await f.call('HEAD', `${A}/fp/large`)).statusCode, 404)
    const big = await post({ path: 'fp/', maxFileSize: 1000, files: [{ name: 'huge', body: Buffer.alloc(2 * 1024 * 1024) }] })
    assert.equal(big.body, 'FormPost: max_file_size exceeded')
    assert.equal((await f.call('HEAD', `${A}/fp/huge`)).statusCode, 404)
  })

  it('max_file_count: the files beyond it are not stored', async () => {
    const r = await post({ path: 'fp/n-', maxFileCount: 2, files: [{ name: '1', body: '1' }, { name: '2', body: '2' }, { name: '3', body: '3' }] })
    assert.equal(r.statusCode, 400)
    assert.equal(r.body, '400 Bad Request\r\nFormPost: Max File Count Exceeded')
    assert.equal((await f.call('HEAD', `${A}/fp/n-2`)).statusCode, 200)
    assert.equal((await f.call('HEAD', `${A}/fp/n-3`)).statusCode, 404)
  })

  it('malformed forms are 400 with Swift\'s messages', async () => {
    const call = (body: string, ct = `multipart/form-data; boundary=${BOUNDARY}`) =>
      f.call('POST', `${A}/fp/`, { ...anon, body, headers: { 'content-type': ct } })
    assert.equal((await post({ path: 'fp/', files: [] })).body, '400 Bad Request\r\nFormPost: No Files To Process')
    const junk = await call(`junk\r\n--${BOUNDARY}\r\n\r\nx\r\n--${BOUNDARY}--\r\n`)
    assert.equal(junk.statusCode, 400)
    assert.equal(junk.body, 'FormPost: invalid starting boundary')
    assert.equal((await call('')).statusCode, 400)
    assert.equal((await post({ path: 'fp/', maxFileSize: 'big', files: [{ name: 'f', body: 'x' }] })).body, 'FormPost: max_file_size not an integer')
    assert.equal((await post({ path: 'fp/', maxFileCount: 'ten', files: [{ name: 'f', body: 'x' }] })).body, 'FormPost: max_file_count not an integer')
    assert.equal((await post({ path: 'fp/', expires: 'soon', files: [{ name: 'f', body: 'x' }] })).body, 'FormPost: expired not an integer')
    assert.equal((await post({ path: 'fp/', fields: { x_delete_at: 'never' }, files: [{ name: 'f', body: 'x' }] })).body,
      'FormPost: x_delete_at not an integer: Unix timestamp required.')
    // A body cut short in a file: nothing stored.
    const { body, contentType } = form({ path: 'fp/', files: [{ name: 'cut', body: 'abcdef' }] })
    const cut = await f.call('POST', `${A}/fp/`, { ...anon, body: body.subarray(0, body.indexOf('abcdef') + 3), headers: { 'content-type': contentType } })
    assert.equal(cut.statusCode, 400)
    assert.equal((await f.call('HEAD', `${A}/fp/cut`)).statusCode, 404)
  })
})

describe('FormPOST: parsing', () => {
  it('parse_content_disposition as Swift', () => {
    assert.deepEqual(parseDisposition('form-data; name="a"; filename="b c.txt"'), ['form-data', { name: 'a', filename: 'b c.txt' }])
    assert.deepEqual(parseDisposition('multipart/form-data; boundary=--x--'), ['multipart/form-data', { boundary: '--x--' }])
    assert.deepEqual(parseDisposition('form-data'), ['form-data', {}])
  })

  it('parts stream one at a time, headers in UTF-8, unread parts skipped', async () => {
    const body = Buffer.from(`\r\n--b\r\nContent-Disposition: form-data; name="x"; filename="\xc3\xa9.txt"\r\n\r\nskipped\r\n` +
      `--b\r\nContent-Disposition: form-data; name="y"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nread\r\n--b--\r\n`, 'latin1')
    const seen: string[] = []
    for await (const p of formParts(Readable.from([body.subarray(0, 30), body.subarray(30)]), 'b')) {
      seen.push(p.headers['content-disposition']!)
      if (p.headers['content-type']) seen.push(p.headers['content-type'], (await p.body.toArray()).join(''))
    }
    assert.deepEqual(seen, ['form-data; name="x"; filename="é.txt"', 'form-data; name="y"', 'text/plain; charset=utf-8', 'read'])
  })
})

describe('FormPOST: /info', () => {
  it('publishes Swift\'s formpost section', async () => {
    const info = JSON.parse((await f.call('GET', '/info', anon)).body)
    assert.deepEqual(info.formpost, { allowed_digests: ['sha1', 'sha256', 'sha512'], deprecated_digests: ['sha1'] })
  })
})
