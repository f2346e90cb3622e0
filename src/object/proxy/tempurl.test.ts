// TempURL through the whole proxy (swiftFixture: identity, proxy, storage servers), plus the
// middleware alone for what the fixture cannot set (the client's address) or show (the
// request passed on).
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { ProxyContext } from './context.ts'
import { inIpRange } from './ip-range.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'
import { AUTHORIZE_ENV, type AuthorizeOverride, REMOTE_ADDR_ENV, normalizeExpires, tempurl } from './tempurl.ts'
import { extractDigest } from './tempurl-sig.ts'

let f: SwiftFixture
let A: string
let P: string // the account's path as signatures name it
before(async () => {
  f = await swiftFixture()
  A = `/v1/${f.account}`
  P = A
  assert.equal((await f.call('POST', A, { headers: { 'x-account-meta-temp-url-key': 'akey' } })).statusCode, 204)
  assert.equal((await f.call('PUT', `${A}/tu`)).statusCode, 201)
  assert.equal((await f.call('PUT', `${A}/tu/o`, { body: 'hello', headers: {
    'x-object-meta-secret': 's', 'x-object-meta-public-color': 'red', 'content-type': 'text/plain' } })).statusCode, 201)
  assert.equal((await f.call('PUT', `${A}/tu/other`, { body: 'private' })).statusCode, 201)
})
after(async () => { await f?.close() })

const future = () => Math.floor(Date.now() / 1000) + 600
function sig(method: string, path: string, expires: number | string, key = 'akey', algo = 'sha1', ip?: string): string {
  return createHmac(algo, key).update(`${ip ? `ip=${ip}\n` : ''}${method}\n${expires}\n${path}`).digest('hex')
}
function b64(hex: string, urlsafe = false): string {
  const s = Buffer.from(hex, 'hex').toString('base64')
  return urlsafe ? s.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '') : s
}
/** A temp URL for `obj` in container `c`: the URL path plus its query. */
function url(method: string, c: string, obj: string, o: { expires?: number; key?: string; algo?: string; extra?: string } = {}): string {
  const expires = o.expires ?? future()
  return `${A}/${c}/${obj}?temp_url_sig=${sig(method, `${P}/${c}/${obj}`, expires, o.key, o.algo)}&temp_url_expires=${expires}${o.extra ?? ''}`
}
const anon = { token: null }

describe('TempURL: signatures', () => {
  it('a GET URL reads the object without a token, as an attachment, without private metadata', async () => {
    const r = await f.call('GET', url('GET', 'tu', 'o'), anon)
    assert.equal(r.statusCode, 200)
    assert.equal(r.body, 'hello')
    assert.equal(r.headers['content-disposition'], `attachment; filename="o"; filename*=UTF-8''o`)
    assert.match(String(r.headers.expires), /GMT$/)
    assert.equal(r.headers['x-object-meta-secret'], undefined)
    assert.equal(r.headers['x-object-meta-public-color'], 'red')
    // HEAD is allowed by a GET, PUT or POST signature, not by a DELETE one.
    for (const m of ['GET', 'PUT', 'POST', 'HEAD']) assert.equal((await f.call('HEAD', url(m, 'tu', 'o'), anon)).statusCode, 200, m)
    assert.equal((await f.call('HEAD', url('DELETE', 'tu', 'o'), anon)).statusCode, 401)
  })

  it('sha256 and sha512, hex and base64 (standard or URL-safe)', async () => {
    const e = future()
    const path = `${P}/tu/o`
    const q = (s: string) => `${A}/tu/o?temp_url_sig=${encodeURIComponent(s)}&temp_url_expires=${e}`
    const sha256 = sig('GET', path, e, 'akey', 'sha256')
    const sha512 = sig('GET', path, e, 'akey', 'sha512')
    assert.equal((await f.call('GET', q(sha256), anon)).statusCode, 200)
    assert.equal((await f.call('GET', q(`sha256:${b64(sha256)}`), anon)).statusCode, 200)
    assert.equal((await f.call('GET', q(sha512), anon)).statusCode, 200)
    assert.equal((await f.call('GET', q(`sha512:${b64(sha512)}`), anon)).statusCode, 200)
    assert.equal((await f.call('GET', q(`sha512:${b64(sha512, true)}`), anon)).statusCode, 200)
    assert.equal((await f.call('GET', q(`sha1:${b64(sig('GET', path, e))}`), anon)).statusCode, 200)
    // A digest Swift does not allow, a label that does not match, hex of no digest's length.
    assert.equal((await f.call('GET', q(`md5:${b64(createHmac('md5', 'akey').update(`GET\n${e}\n${path}`).digest('hex'))}`), anon)).statusCode, 401)
    assert.equal((await f.call('GET', q(`sha256:${b64(sha512)}`), anon)).statusCode, 401)
    assert.equal((await f.call('GET', q(sha256.slice(2)), anon)).statusCode, 401)
    assert.equal((await f.call('GET', q(sha256.toUpperCase()), anon)).statusCode, 401)
  })

  it('expired, tampered or incomplete URLs are 401 "Temp URL invalid"', async () => {
    const past = Math.floor(Date.now() / 1000) - 1
    const r = await f.call('GET', url('GET', 'tu', 'o', { expires: past }), anon)
    assert.equal(r.statusCode, 401)
    assert.equal(r.body, '401 Unauthorized: Temp URL invalid\n')
    assert.equal(r.headers['www-authenticate'], `Swift realm="${f.account}"`)
    const good = url('GET', 'tu', 'o')
    assert.equal((await f.call('GET', good.replace(/temp_url_sig=./, (m) => m.endsWith('0') ? m.slice(0, -1) + '1' : m.slice(0, -1) + '0'), anon)).statusCode, 401)
    assert.equal((await f.call('GET', good.replace(/temp_url_expires=\d+/, `temp_url_expires=${future() + 5}`), anon)).statusCode, 401)
    assert.equal((await f.call('GET', good.replace(/&temp_url_expires=\d+/, ''), anon)).statusCode, 401)
    assert.equal((await f.call('GET', good.replace(/temp_url_sig=[0-9a-f]+&/, ''), anon)).statusCode, 401)
    assert.equal((await f.call('GET', good.replace(/temp_url_expires=\d+/, 'temp_url_expires=soon'), anon)).statusCode, 401)
    assert.equal((await f.call('HEAD', url('GET', 'tu', 'o', { expires: past }), anon)).statusCode, 401)
    // A signature is checked even when the caller also has a token.
    assert.equal((await f.call('GET', url('GET', 'tu', 'o', { expires: past }))).statusCode, 401)
  })

  it('temp_url_expires in ISO 8601 form (the signature names the unix time)', async () => {
    const e = future()
    const iso = new Date(e * 1000).toISOString().replace(/\.\d+Z$/, 'Z')
    const s = sig('GET', `${P}/tu/o`, e)
    assert.equal((await f.call('GET', `${A}/tu/o?temp_url_sig=${s}&temp_url_expires=${iso}`, anon)).statusCode, 200)
    assert.equal(normalizeExpires('2001-02-03T04:05:06Z', 0), BigInt(Date.UTC(2001, 1, 3, 4, 5, 6) / 1000))
    assert.equal(normalizeExpires('2001-02-30T04:05:06Z', 0), 0n)
    assert.equal(normalizeExpires('2001-02-03 04:05:06', 0), 0n)
    assert.equal(normalizeExpires(' +42 ', 0), 42n)
    assert.equal(normalizeExpires('41', 42), 0n)
  })

  it('signature forms as Swift reads them', () => {
    assert.deepEqual(extractDigest('a'.repeat(40)), { algo: 'sha1', hex: 'a'.repeat(40) })
    assert.equal(extractDigest('a'.repeat(41)), undefined)
    assert.equal(extractDigest('g'.repeat(40)), undefined)
    assert.equal(extractDigest('sha256:ab$c'), undefined)
    assert.equal(extractDigest('sha256:abcde'), undefined)
    assert.deepEqual(extractDigest('sha1:AQID'), { algo: 'sha1', hex: '010203' })
  })
})

describe('TempURL: what a URL grants', () => {
  it('a PUT URL uploads (X-Timestamp ignored), and then reads back through a GET URL', async () => {
    const put = await f.call('PUT', url('PUT', 'tu', 'up'), { ...anon, body: 'uploaded', headers: { 'x-timestamp': '1000000000.00000' } })
    assert.equal(put.statusCode, 201)
    const get = await f.call('GET', url('GET', 'tu', 'up'), anon)
    assert.equal(get.body, 'uploaded')
    assert.notEqual(get.headers['last-modified'], new Date(1e12).toUTCString())
  })

  it('only the signed method, on the signed object', async () => {
    assert.equal((await f.call('PUT', url('GET', 'tu', 'o'), { ...anon, body: 'x' })).statusCode, 401)
    assert.equal((await f.call('DELETE', url('GET', 'tu', 'o'), anon)).statusCode, 401)
    assert.equal((await f.call('POST', url('GET', 'tu', 'o'), anon)).statusCode, 401)
    const e = future()
    const s = sig('GET', `${P}/tu/o`, e)
    assert.equal((await f.call('GET', `${A}/tu/other?temp_url_sig=${s}&temp_url_expires=${e}`, anon)).statusCode, 401)
    assert.equal((await f.call('GET', `${A}/tu?temp_url_sig=${s}&temp_url_expires=${e}`, anon)).statusCode, 401)
    assert.equal((await f.call('GET', `${A}?temp_url_sig=${s}&temp_url_expires=${e}`, anon)).statusCode, 401)
    // Container and account paths never take a temp URL, even signed for them.
    const cs = sig('GET', `${P}/tu/`, e)
    assert.equal((await f.call('GET', `${A}/tu/?temp_url_sig=${cs}&temp_url_expires=${e}`, anon)).statusCode, 401)
    // COPY is not a temp URL method.
    assert.equal((await f.call('COPY', url('COPY', 'tu', 'o'), { ...anon, headers: { destination: 'tu/o2' } })).statusCode, 401)
    // Without a temp URL the objects stay private.
    assert.equal((await f.call('GET', `${A}/tu/o`, anon)).statusCode, 401)
  })

  it('a DELETE URL deletes its object and nothing else', async () => {
    await f.call('PUT', `${A}/tu/doomed`, { body: 'x' })
    assert.equal((await f.call('DELETE', url('DELETE', 'tu', 'doomed'), anon)).statusCode, 204)
    assert.equal((await f.call('HEAD', `${A}/tu/doomed`)).statusCode, 404)
    assert.equal((await f.call('HEAD', `${A}/tu/o`)).statusCode, 200)
  })

  it('a PUT URL cannot copy from an object it was not signed for, nor make pointers', async () => {
    const r = await f.call('PUT', url('PUT', 'tu', 'stolen'), { ...anon, headers: { 'x-copy-from': 'tu/other' } })
    assert.equal(r.statusCode, 401)
    const cross = await f.call('PUT', url('PUT', 'tu', 'stolen'), { ...anon, headers: { 'x-copy-from': 'tu/other', 'x-copy-from-account': 'AUTH_else' } })
    assert.equal(cross.statusCode, 401)
    assert.equal((await f.call('HEAD', `${A}/tu/stolen`)).statusCode, 404)
    // Copying the object onto itself (to change its metadata) stays within the URL.
    const self = await f.call('PUT', url('PUT', 'tu', 'o'), { ...anon, headers: { 'x-copy-from': 'tu/o', 'x-object-meta-public-shape': 'round' } })
    assert.equal(self.statusCode, 201)
    const copied = await f.call('GET', `${A}/tu/o`)
    assert.equal(copied.body, 'hello')
    assert.equal(copied.headers['x-object-meta-public-shape'], 'round')
    const manifest = await f.call('PUT', url('PUT', 'tu', 'ptr'), { ...anon, body: '', headers: { 'x-object-manifest': 'tu/o' } })
    assert.equal(manifest.statusCode, 400)
    assert.equal(manifest.body, `The header 'X-Object-Manifest' is not allowed in this tempurl`)
    assert.equal((await f.call('PUT', url('PUT', 'tu', 'ptr'), { ...anon, body: '', headers: { 'x-symlink-target': 'tu/o' } })).statusCode, 400)
  })

  it('prefix URLs cover the objects under the prefix only', async () => {
    await f.call('PUT', `${A}/tu/pre/a`, { body: 'A' })
    await f.call('PUT', `${A}/tu/pre/deep/b`, { body: 'B' })
    const e = future()
    const s = sig('GET', `prefix:${P}/tu/pre/`, e)
    const q = `?temp_url_sig=${s}&temp_url_expires=${e}&temp_url_prefix=pre/`
    assert.equal((await f.call('GET', `${A}/tu/pre/a${q}`, anon)).body, 'A')
    assert.equal((await f.call('GET', `${A}/tu/pre/deep/b${q}`, anon)).body, 'B')
    assert.equal((await f.call('GET', `${A}/tu/o${q}`, anon)).statusCode, 401)
    assert.equal((await f.call('GET', `${A}/tu/pre/a${q.replace('prefix=pre/', 'prefix=pre/d')}`, anon)).statusCode, 401)
    // Without temp_url_prefix the same signature names a path, not a prefix.
    assert.equal((await f.call('GET', `${A}/tu/pre/a?temp_url_sig=${s}&temp_url_expires=${e}`, anon)).statusCode, 401)
    // The prefix must be where the object is.
    const ws = sig('GET', `prefix:${P}/tu/pr`, e)
    assert.equal((await f.call('GET', `${A}/tu/pre/a?temp_url_sig=${ws}&temp_url_expires=${e}&temp_url_prefix=pr`, anon)).body, 'A')
    assert.equal((await f.call('GET', `${A}/tu/o?temp_url_sig=${ws}&temp_url_expires=${e}&temp_url_prefix=pr`, anon)).statusCode, 401)
  })

  it('filename and inline set Content-Disposition', async () => {
    const r1 = await f.call('GET', url('GET', 'tu', 'o', { extra: '&filename=My+File.pdf' }), anon)
    assert.equal(r1.headers['content-disposition'], `attachment; filename="My File.pdf"; filename*=UTF-8''My%20File.pdf`)
    const r2 = await f.call('GET', url('GET', 'tu', 'o', { extra: '&inline' }), anon)
    assert.equal(r2.headers['content-disposition'], 'inline')
    const r3 = await f.call('GET', url('GET', 'tu', 'o', { extra: '&inline&filename=%C3%A9t%C3%A9"x".txt' }), anon)
    assert.equal(r3.headers['content-disposition'], `inline; filename="%C3%A9t%C3%A9%22x%22.txt"; filename*=UTF-8''%C3%A9t%C3%A9%22x%22.txt`)
    // An object's own Content-Disposition is kept when the URL names none.
    await f.call('PUT', `${A}/tu/named`, { body: 'n', headers: { 'content-disposition': 'attachment; filename="report.csv"' } })
    assert.equal((await f.call('GET', url('GET', 'tu', 'named'), anon)).headers['content-disposition'], 'attachment; filename="report.csv"')
    // Error answers get none.
    assert.equal((await f.call('GET', url('GET', 'tu', 'missing'), anon)).headers['content-disposition'], undefined)
  })
})

describe('TempURL: keys', () => {
  it('the account key 2 signs too, and a removed key no longer does (rotation)', async () => {
    await f.call('POST', A, { headers: { 'x-account-meta-temp-url-key-2': 'akey2' } })
    const old = url('GET', 'tu', 'o')
    assert.equal((await f.call('GET', url('GET', 'tu', 'o', { key: 'akey2' }), anon)).statusCode, 200)
    await f.call('POST', A, { headers: { 'x-account-meta-temp-url-key': 'akey3' } })
    assert.equal((await f.call('GET', old, anon)).statusCode, 401)
    assert.equal((await f.call('GET', url('GET', 'tu', 'o', { key: 'akey2' }), anon)).statusCode, 200)
    assert.equal((await f.call('GET', url('GET', 'tu', 'o', { key: 'akey3' }), anon)).statusCode, 200)
    await f.call('POST', A, { headers: { 'x-account-meta-temp-url-key': 'akey', 'x-remove-account-meta-temp-url-key-2': 'x' } })
    assert.equal((await f.call('GET', url('GET', 'tu', 'o', { key: 'akey2' }), anon)).statusCode, 401)
  })

  it('container keys sign for their own container only', async () => {
    assert.equal((await f.call('PUT', `${A}/tc`, { headers: { 'x-container-meta-temp-url-key': 'ckey' } })).statusCode, 201)
    await f.call('PUT', `${A}/tc/x`, { body: 'in tc' })
    assert.equal((await f.call('GET', url('GET', 'tc', 'x', { key: 'ckey' }), anon)).body, 'in tc')
    assert.equal((await f.call('GET', url('GET', 'tu', 'o', { key: 'ckey' }), anon)).statusCode, 401)
    await f.call('POST', `${A}/tc`, { headers: { 'x-container-meta-temp-url-key-2': 'ckey2' } })
    assert.equal((await f.call('GET', url('GET', 'tc', 'x', { key: 'ckey2' }), anon)).body, 'in tc')
    // The account key reaches every container.
    assert.equal((await f.call('GET', url('GET', 'tc', 'x'), anon)).body, 'in tc')
    // Keys are the owner's: another project's member neither sees nor sets them.
    const u = await f.user('tu-reader')
    await f.call('POST', `${A}/tc`, { headers: { 'x-container-read': `${u.projectId}:*` } })
    const seen = await f.call('HEAD', `${A}/tc`, { token: u.token })
    assert.equal(seen.statusCode, 204)
    assert.equal(seen.headers['x-container-meta-temp-url-key'], undefined)
    // …and one allowed to write into the container cannot plant a key of their own.
    await f.call('POST', `${A}/tc`, { headers: { 'x-container-write': `${u.projectId}:*` } })
    await f.call('POST', `${A}/tc`, { token: u.token, headers: { 'x-container-meta-temp-url-key': 'planted' } })
    await f.call('POST', `${A}`, { token: u.token, headers: { 'x-account-meta-temp-url-key': 'planted' } })
    assert.equal((await f.call('GET', url('GET', 'tc', 'x', { key: 'planted' }), anon)).statusCode, 401)
  })

  it('no key, no temp URL', async () => {
    const other = await f.user('tu-nokeys', 'admin')
    await f.call('PUT', `/v1/${other.account}/c`, { token: other.token })
    await f.call('PUT', `/v1/${other.account}/c/o`, { token: other.token, body: 'x' })
    const e = future()
    const s = sig('GET', `/v1/${other.account}/c/o`, e)
    assert.equal((await f.call('GET', `/v1/${other.account}/c/o?temp_url_sig=${s}&temp_url_expires=${e}`, anon)).statusCode, 401)
  })

  it('an IP range the client is not in is 401 (the signature covers the range)', async () => {
    const e = future()
    const s = sig('GET', `${P}/tu/o`, e, 'akey', 'sha1', '10.0.0.0/8')
    assert.equal((await f.call('GET', `${A}/tu/o?temp_url_sig=${s}&temp_url_expires=${e}&temp_url_ip_range=10.0.0.0/8`, anon)).statusCode, 401)
  })
})

describe('TempURL: the middleware alone', () => {
  const ctx = {
    infos: {
      account: async () => ({ status: 204, containerCount: 1, headers: { 'x-account-meta-temp-url-key': 'k' } }),
      container: async () => ({ status: 204, policy: 0, objectCount: 0, bytes: 0, headers: { 'x-container-meta-temp-url-key': 'ck' } }),
    },
  } as unknown as ProxyContext
  const seen: SwiftRequest[] = []
  const handler = tempurl().wrap(async (r) => {
    seen.push(r)
    return { status: 200, headers: { 'x-object-meta-a': '1', 'content-type': 'text/plain' }, body: Buffer.from('ok') } satisfies ClientAnswer
  }, ctx)
  const request = (query: string, o: Partial<SwiftRequest> = {}): SwiftRequest => ({
    method: 'GET', account: 'AUTH_a', container: 'c', obj: 'o', query: new URLSearchParams(query), headers: {}, id: 'tx', owner: false,
    env: new Map(), ...o,
  })
  const e = future()

  it('passes on a preauthorized request with the temp URL query only, scoped to the key', async () => {
    const s = sig('GET', '/v1/AUTH_a/c/o', e, 'ck')
    const r = await handler(request(`temp_url_sig=${s}&temp_url_expires=${e}&multipart-manifest=get&symlink=get`,
      { headers: { 'x-timestamp': '1', 'x-open-expired': 'true', accept: '*/*' } }))
    assert.equal(r.status, 200)
    const passed = seen.at(-1)!
    assert.equal(passed.preauthorized, true)
    assert.deepEqual([...passed.query.keys()].sort(), ['temp_url_expires', 'temp_url_sig'])
    assert.deepEqual(passed.headers, { accept: '*/*' })
    // Signed with the container key: subrequests stay in that container.
    const authorize = passed.env!.get(AUTHORIZE_ENV) as AuthorizeOverride
    assert.equal(authorize({ ...passed, obj: 'other' }), undefined)
    assert.equal(authorize({ ...passed, container: 'c2' })?.status, 401)
    assert.equal(authorize({ ...passed, account: 'AUTH_b' })?.status, 401)
    // Signed with the account key: the whole account.
    await handler(request(`temp_url_sig=${sig('GET', '/v1/AUTH_a/c/o', e, 'k')}&temp_url_expires=${e}`))
    const wide = seen.at(-1)!.env!.get(AUTHORIZE_ENV) as AuthorizeOverride
    assert.equal(wide({ ...passed, container: 'c2' }), undefined)
    assert.equal(wide({ ...passed, account: 'AUTH_b' })?.status, 401)
  })

  it('X-Copy-From is passed on only for a source the signature covers', async () => {
    const put = (query: string, from: string, account?: string) => handler(request(query, {
      method: 'PUT', headers: { 'x-copy-from': from, ...(account ? { 'x-copy-from-account': account } : {}) } }))
      .then((a) => a.status, (err: { status: number }) => err.status)
    const one = `temp_url_sig=${sig('PUT', '/v1/AUTH_a/c/o', e, 'k')}&temp_url_expires=${e}`
    assert.equal(await put(one, 'c/o'), 200)
    assert.equal(await put(one, '/c/o'), 200)
    assert.equal(await put(one, 'c/o', 'AUTH_a'), 200)
    assert.equal(await put(one, 'c/o2'), 401)
    assert.equal(await put(one, 'c2/o'), 401)
    assert.equal(await put(one, 'c/o', 'AUTH_b'), 401)
    const pre = (obj: string) => handler(request(`temp_url_sig=${sig('PUT', 'prefix:/v1/AUTH_a/c/p/', e, 'k')}&temp_url_expires=${e}&temp_url_prefix=p/`,
      { method: 'PUT', obj, headers: { 'x-copy-from': 'c/p/src' } })).then((a) => a.status, (err: { status: number }) => err.status)
    assert.equal(await pre('p/dst'), 200)
    const out = handler(request(`temp_url_sig=${sig('PUT', 'prefix:/v1/AUTH_a/c/p/', e, 'k')}&temp_url_expires=${e}&temp_url_prefix=p/`,
      { method: 'PUT', obj: 'p/dst', headers: { 'x-copy-from': 'c/q/src' } }))
    await assert.rejects(out, { status: 401 })
  })

  it('only /v1 paths take temp URLs (as Swift: not /v1.0)', async () => {
    const env = new Map<string, unknown>([['swift.version', 'v1.0']])
    await assert.rejects(handler(request(`temp_url_sig=${sig('GET', '/v1/AUTH_a/c/o', e, 'k')}&temp_url_expires=${e}`, { env })), { status: 401 })
  })

  it('requests without temp URL fields pass untouched', async () => {
    const req = request('format=json')
    await handler(req)
    assert.equal(seen.at(-1), req)
  })

  it('temp_url_ip_range: the client address (REMOTE_ADDR) must be inside the signed range', async () => {
    const call = (range: string, addr?: string) => {
      const s = sig('GET', '/v1/AUTH_a/c/o', e, 'k', 'sha1', range)
      const env = new Map<string, unknown>(addr === undefined ? [] : [[REMOTE_ADDR_ENV, addr]])
      return handler(request(`temp_url_sig=${s}&temp_url_expires=${e}&temp_url_ip_range=${encodeURIComponent(range)}`, { env }))
        .then((a) => a.status, (err: { status: number }) => err.status)
    }
    assert.equal(await call('1.2.3.0/24', '1.2.3.4'), 200)
    assert.equal(await call('1.2.3.4', '1.2.3.4'), 200)
    assert.equal(await call('1.2.3.0/24', '::ffff:1.2.3.200'), 200)
    assert.equal(await call('1.2.3.0/24', '1.2.4.4'), 401)
    assert.equal(await call('1.2.3.0/24'), 401)
    assert.equal(await call('2001:db8::/32', '2001:db8:1::5'), 200)
    assert.equal(await call('2001:db8::/32', '1.2.3.4'), 401)
    // The range is signed: the same signature with another range is invalid.
    const s = sig('GET', '/v1/AUTH_a/c/o', e, 'k', 'sha1', '1.2.3.4')
    const env = new Map<string, unknown>([[REMOTE_ADDR_ENV, '1.2.3.5']])
    await assert.rejects(handler(request(`temp_url_sig=${s}&temp_url_expires=${e}&temp_url_ip_range=1.2.3.5`, { env })), { status: 401 })
  })

  it('IP ranges as Python ipaddress reads them', () => {
    assert.equal(inIpRange('10.1.2.3', '10.0.0.0/8'), true)
    assert.equal(inIpRange('10.1.2.3', '10.0.0.0/255.0.0.0'), true)
    assert.equal(inIpRange('10.1.2.3', '10.0.0.1/8'), false) // host bits set: not a network
    assert.equal(inIpRange('10.1.2.3', '0.0.0.0/0'), true)
    assert.equal(inIpRange('10.1.2.3', '10.0.0.0/33'), false)
    assert.equal(inIpRange('10.1.2.3', '10.0.0.0/255.0.255.0'), false)
    assert.equal(inIpRange('::1', '::1'), true)
    assert.equal(inIpRange('::ffff:0:1', '::/96'), false)
    assert.equal(inIpRange('fe80::1:2', 'fe80::/64'), true)
    assert.equal(inIpRange('1.2.3.4', 'nonsense'), false)
  })

  it('outgoing metadata is filtered on every answer', async () => {
    const r = await handler(request(`temp_url_sig=${sig('GET', '/v1/AUTH_a/c/o', e, 'k')}&temp_url_expires=${e}`))
    assert.equal(r.headers['x-object-meta-a'], undefined)
    assert.equal(r.headers['content-disposition'], `attachment; filename="o"; filename*=UTF-8''o`)
  })
})

describe('TempURL: URLs made by python-swiftclient', () => {
  const hasSwift = spawnSync('swift', ['--version']).status === 0
  it('`swift tempurl` (sha256), and the client library\'s sha1, sha512, ISO 8601, prefix-based and absolute forms',
    { skip: !hasSwift && 'python-swiftclient not installed' }, async () => {
      const path = `${A}/tu/o`
      const cli = execFileSync('swift', ['tempurl', 'GET', '600', path, 'akey'], { encoding: 'utf8' }).trim()
      // One interpreter for the rest (each run costs seconds): generate_temp_url is what the CLI calls.
      const script = `import json,sys\nfrom swiftclient.utils import generate_temp_url as g\na=json.loads(sys.argv[1])\n` +
        `print(json.dumps([g(p, s, 'akey', m, **kw) for p, s, m, kw in a]))`
      const specs = [
        [path, 600, 'GET', { digest: 'sha1' }], [path, 600, 'GET', { digest: 'sha512' }], [path, 600, 'GET', { iso8601: true }],
        [`${A}/tu/pre/`, 600, 'GET', { prefix: true }], [`${A}/tu/cli`, 600, 'PUT', {}], [path, 1000000000, 'GET', { absolute: true }],
      ]
      const [sha1, sha512, iso, pre, put, old] = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, JSON.stringify(specs)],
        { encoding: 'utf8' })) as string[]
      for (const u of [cli, sha1!, sha512!, iso!]) {
        const r = await f.call('GET', u, anon)
        assert.equal(r.statusCode, 200, u)
        assert.equal(r.body, 'hello')
      }
      assert.equal((await f.call('GET', pre!.replace('/tu/pre/?', '/tu/pre/a?'), anon)).statusCode, 200)
      assert.equal((await f.call('PUT', put!, { ...anon, body: 'from the client' })).statusCode, 201)
      assert.equal((await f.call('GET', put!, anon)).statusCode, 401)
      assert.equal((await f.call('GET', `${A}/tu/cli`)).body, 'from the client')
      assert.equal((await f.call('GET', old!, anon)).statusCode, 401)
    })
})

describe('TempURL: /info', () => {
  it('publishes Swift\'s tempurl section', async () => {
    const info = JSON.parse((await f.call('GET', '/info', anon)).body)
    assert.deepEqual(info.tempurl, {
      methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
      incoming_remove_headers: ['x-timestamp', 'x-open-expired'],
      incoming_allow_headers: [],
      outgoing_remove_headers: ['x-object-meta-*'],
      outgoing_allow_headers: ['x-object-meta-public-*'],
      allowed_digests: ['sha1', 'sha256', 'sha512'],
      deprecated_digests: ['sha1'],
    })
  })
})
