// CORS on the Swift API: preflights answered from the container's metadata, actual requests
// decorated with Access-Control-* headers, as Swift's proxy.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createCore } from '../../core/index.ts'
import { type IdentityHarness, identityHarness } from '../../identity/testing.ts'
import { type ObjectStore, createObjectStore } from '../index.ts'
import { S3TestClient } from '../s3/testing.ts'
import { DEFAULT_CORS, addCorsHeaders, isOriginAllowed } from './cors.ts'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let A: string
before(async () => {
  f = await swiftFixture()
  A = `/v1/${f.account}`
  await f.call('PUT', `${A}/web`, { headers: {
    'x-container-meta-access-control-allow-origin': 'http://a.example http://b.example',
    'x-container-meta-access-control-max-age': '60',
    'x-container-meta-access-control-expose-headers': 'X-Object-Meta-Color Content-Disposition',
  } })
  await f.call('PUT', `${A}/web/page`, { body: '<p>', headers: { 'x-object-meta-color': 'red', 'content-type': 'text/html' } })
  await f.call('PUT', `${A}/open`, { headers: { 'x-container-meta-access-control-allow-origin': '*' } })
})
after(async () => { await f?.close() })

const preflight = (url: string, origin: string | undefined, method = 'GET', extra: Record<string, string> = {}) =>
  f.call('OPTIONS', url, { token: null, headers: { ...(origin ? { origin } : {}), 'access-control-request-method': method, ...extra } })

describe('CORS preflight (OPTIONS)', () => {
  it('without Origin: 200 and the methods, for anyone', async () => {
    const acct = await f.call('OPTIONS', A, { token: null })
    assert.equal(acct.statusCode, 200)
    assert.equal(acct.headers.allow, 'GET, HEAD, POST, OPTIONS')
    assert.equal((await f.call('OPTIONS', `${A}/web`, { token: null })).headers.allow, 'GET, HEAD, PUT, POST, DELETE, OPTIONS')
    assert.equal((await f.call('OPTIONS', `${A}/web/page`, { token: null })).headers.allow, 'GET, HEAD, PUT, POST, DELETE, OPTIONS, COPY')
  })

  it('an allowed origin gets the CORS headers, the max age and its requested headers', async () => {
    const r = await preflight(`${A}/web/page`, 'http://a.example', 'PUT', { 'access-control-request-headers': 'x-auth-token, content-type' })
    assert.equal(r.statusCode, 200)
    assert.equal(r.headers['access-control-allow-origin'], 'http://a.example')
    assert.equal(r.headers['access-control-max-age'], '60')
    assert.equal(r.headers['access-control-allow-methods'], 'GET, HEAD, PUT, POST, DELETE, OPTIONS, COPY')
    assert.equal(r.headers['access-control-allow-headers'], 'x-auth-token, content-type')
    assert.equal(r.headers.vary, 'Origin, Access-Control-Request-Headers')
    const any = await preflight(`${A}/open/x`, 'http://anywhere.example')
    assert.equal(any.statusCode, 200)
    assert.equal(any.headers['access-control-allow-origin'], '*')
    assert.equal(any.headers['access-control-max-age'], undefined)
  })

  it('401 for an origin or method not allowed, or no container', async () => {
    assert.equal((await preflight(`${A}/web/page`, 'http://evil.example')).statusCode, 401)
    assert.equal((await preflight(`${A}/web/page`, 'http://a.example', 'COPY')).statusCode, 401)
    assert.equal((await preflight(`${A}/web/page`, 'http://a.example', 'PATCH')).statusCode, 401)
    assert.equal((await preflight(`${A}/nowhere/x`, 'http://a.example')).statusCode, 401)
    const acct = await preflight(A, 'http://a.example')
    assert.equal(acct.statusCode, 200, 'account preflights get no CORS answer, only Allow')
    assert.equal(acct.headers['access-control-allow-origin'], undefined)
  })
})

describe('CORS on actual requests', () => {
  it('an allowed origin sees the origin, Swift\'s exposed headers, the metadata and the container\'s list', async () => {
    const r = await f.call('GET', `${A}/web/page`, { headers: { origin: 'http://b.example' } })
    assert.equal(r.statusCode, 200)
    assert.equal(r.headers['access-control-allow-origin'], 'http://b.example')
    assert.equal(r.headers.vary, 'Origin')
    const exposed = String(r.headers['access-control-expose-headers']).split(', ')
    for (const h of ['etag', 'x-timestamp', 'x-trans-id', 'x-openstack-request-id', 'content-type', 'x-object-meta-color', 'content-disposition']) {
      assert.ok(exposed.includes(h), h)
    }
    const listing = await f.call('GET', `${A}/open`, { headers: { origin: 'http://x.example' } })
    assert.equal(listing.headers['access-control-allow-origin'], '*')
  })

  it('errors are decorated too; a disallowed origin gets nothing (strict mode); accounts never', async () => {
    const missing = await f.call('GET', `${A}/web/none`, { headers: { origin: 'http://a.example' } })
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.headers['access-control-allow-origin'], 'http://a.example')
    const anon = await f.call('GET', `${A}/web/page`, { token: null, headers: { origin: 'http://a.example' } })
    assert.equal(anon.statusCode, 401)
    assert.equal(anon.headers['access-control-allow-origin'], 'http://a.example')
    const evil = await f.call('GET', `${A}/web/page`, { headers: { origin: 'http://evil.example' } })
    assert.equal(evil.statusCode, 200)
    assert.equal(evil.headers['access-control-allow-origin'], undefined)
    assert.equal(evil.headers['access-control-expose-headers'], undefined)
    assert.equal((await f.call('GET', A, { headers: { origin: 'http://a.example' } })).headers['access-control-allow-origin'], undefined)
  })

  it('the operator\'s origins and expose list; non-strict mode decorates every origin', () => {
    const op = { ...DEFAULT_CORS, allowOrigin: ['http://ops.example'], exposeHeaders: ['x-extra'] }
    assert.equal(isOriginAllowed(op, {}, 'http://ops.example'), true)
    assert.equal(isOriginAllowed(DEFAULT_CORS, {}, 'http://ops.example'), false)
    const h: Record<string, string> = { 'x-container-meta-k': 'v' }
    addCorsHeaders(op, {}, 'http://ops.example', h)
    assert.ok(h['access-control-expose-headers']!.includes('x-extra'))
    assert.ok(h['access-control-expose-headers']!.includes('x-container-meta-k'))
    const loose: Record<string, string> = {}
    addCorsHeaders({ ...DEFAULT_CORS, strict: false }, {}, 'http://any.example', loose)
    assert.equal(loose['access-control-allow-origin'], 'http://any.example')
    const strict: Record<string, string> = {}
    addCorsHeaders(DEFAULT_CORS, {}, 'http://any.example', strict)
    assert.deepEqual(strict, {})
  })
})

describe('CORS next to S3 on the proxy port', () => {
  let h: IdentityHarness
  let store: ObjectStore
  let dir: string
  let base: string
  const core = createCore({ database: 'sqlite::memory:', logLevel: 'silent' })
  before(async () => {
    h = await identityHarness()
    dir = mkdtempSync(join(tmpdir(), 'cumulo-cors-s3-'))
    const keys = new Map([['AKIACORS', { secret: 'cors-secret', projectId: h.adminProjectId, userId: 'u-test' }]])
    store = await createObjectStore(core, { auth: h.identity.auth, dataDir: dir, partPower: 4, daemons: false,
      ec2Credentials: async (ak) => keys.get(ak) })
    await store.api.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(store.api.server.address() as AddressInfo).port}`
  })
  after(async () => {
    await store?.close()
    await core.db.close()
    await h?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('S3 paths keep S3 preflights; /v1 paths get Swift\'s', async () => {
    const s3 = new S3TestClient(base, { accessKey: 'AKIACORS', secret: 'cors-secret', region: 'RegionOne' })
    assert.equal((await s3.request('PUT', '/cors-bucket')).status, 200)
    const config = '<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>'
    assert.equal((await s3.request('PUT', '/cors-bucket?cors', { body: config })).status, 200)
    const pre = { origin: 'https://app.example', 'access-control-request-method': 'GET' }
    const s3Pre = await fetch(`${base}/cors-bucket/k`, { method: 'OPTIONS', headers: pre })
    assert.equal(s3Pre.status, 200)
    assert.equal(s3Pre.headers.get('access-control-allow-origin'), 'https://app.example')
    const swiftPre = await fetch(`${base}/v1/AUTH_${h.adminProjectId}/cors-bucket/k`, { method: 'OPTIONS', headers: pre })
    assert.equal(swiftPre.status, 401, 'the container has no Swift CORS metadata')
    assert.equal(swiftPre.headers.get('allow'), 'GET, HEAD, PUT, POST, DELETE, OPTIONS')
    const plain = await fetch(`${base}/v1/AUTH_${h.adminProjectId}`, { method: 'OPTIONS' })
    assert.equal(plain.status, 200)
    assert.equal(plain.headers.get('allow'), 'GET, HEAD, POST, OPTIONS')
  })
})
