// Container sync on the proxy side: realms, X-Container-Sync-To validation, and the middleware
// that lets signed (or keyed) sync requests in without a token.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createCore } from '../../core/index.ts'
import { createSwiftProxy } from './app.ts'
import {
  ContainerSyncRealms, type ContainerSyncSettings, containerSyncSettings, parseRealmsConf, pyQuote, syncSignature, validateSyncTo,
} from './container-sync-realms.ts'
import { defaultMiddlewares } from './middlewares.ts'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

const dir = mkdtempSync(join(tmpdir(), 'cumulo-csync-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const CONF = `
[DEFAULT]
mtime_check_interval = 10
# a comment
[realm1]
key = realm1key
key2 = realm1key2
cluster_clustername1 = https://host1/v1/
cluster_Name2: https://host2/v1/
[Realm2]
key = k2
`

describe('container-sync-realms.conf', () => {
  it('parses as Swift: upper-case names, [DEFAULT] applies to all, cluster_ options', () => {
    const { realms, mtimeCheckInterval } = parseRealmsConf(CONF)
    assert.equal(mtimeCheckInterval, 10)
    assert.deepEqual(realms.get('REALM1'), { key: 'realm1key', key2: 'realm1key2',
      clusters: { CLUSTERNAME1: 'https://host1/v1/', NAME2: 'https://host2/v1/' } })
    assert.deepEqual(realms.get('REALM2'), { key: 'k2', clusters: {} })
  })

  it('reloads the file when its mtime changes, checked every mtime_check_interval', () => {
    const file = join(dir, 'realms.conf')
    writeFileSync(file, CONF)
    let now = 1_000_000
    const r = new ContainerSyncRealms({ file, now: () => now,
      extra: [{ realm: 'local', key: 'lk', clusters: { me: 'http://127.0.0.1:1/v1/' } }, { realm: 'realm2', key: 'x', clusters: {} }] })
    assert.deepEqual(r.realms().sort(), ['LOCAL', 'REALM1', 'REALM2'])
    assert.equal(r.key('Realm2'), 'k2', 'the file wins over a realm of the same name')
    assert.equal(r.endpoint('realm1', 'CLUSTERNAME1'), 'https://host1/v1/')
    assert.equal(r.endpoint('local', 'ME'), 'http://127.0.0.1:1/v1/')
    writeFileSync(file, '[realm3]\nkey = k3\n')
    utimesSync(file, new Date(), new Date(Date.now() + 5000))
    now += 5_000
    assert.equal(r.key('realm3'), undefined, 'not yet checked')
    now += 6_000
    assert.equal(r.key('realm3'), 'k3')
    assert.equal(r.key('realm1'), undefined)
  })

  it('validate_sync_to: realm values, allowed hosts and Swift\'s errors', () => {
    const realms = new ContainerSyncRealms({ extra: [{ realm: 'r', key: 'rk', clusters: { c: 'http://10.0.0.1:8080/v1/' } }] })
    const hosts = ['127.0.0.1']
    assert.deepEqual(validateSyncTo('//R/C/AUTH_a/box/', hosts, realms),
      { endpoint: 'http://10.0.0.1:8080/v1/AUTH_a/box', realm: 'R', realmKey: 'rk' })
    assert.deepEqual(validateSyncTo('', hosts, realms), {})
    assert.equal(validateSyncTo('//r/c/a', hosts, realms).error, "Invalid X-Container-Sync-To format '//r/c/a'")
    assert.equal(validateSyncTo('//x/c/a/b', hosts, realms).error, "No realm key for 'x'")
    assert.equal(validateSyncTo('//r/d/a/b', hosts, realms).error, "No cluster endpoint for 'r' 'd'")
    assert.deepEqual(validateSyncTo('http://127.0.0.1:8080/v1/AUTH_a/b', hosts, realms), { endpoint: 'http://127.0.0.1:8080/v1/AUTH_a/b' })
    assert.equal(validateSyncTo('http://10.1.1.1/v1/a/b', hosts, realms).error, "Invalid host '10.1.1.1' in X-Container-Sync-To")
    assert.equal(validateSyncTo('ftp://127.0.0.1/v1/a/b', hosts, realms).error,
      'Invalid scheme \'ftp\' in X-Container-Sync-To, must be "//", "http", or "https".')
    assert.equal(validateSyncTo('http://127.0.0.1', hosts, realms).error, 'Path required in X-Container-Sync-To')
    assert.equal(validateSyncTo('http://127.0.0.1/v1/a/b?x=1', hosts, realms).error,
      'Params, queries, and fragments not allowed in X-Container-Sync-To')
  })

  it('signatures and quoting as Swift computes them', () => {
    // hmac.new(b'rk', b'PUT\n/v1/a/c/o\n1.00000\nn\nuk', hashlib.sha1).hexdigest()
    assert.equal(syncSignature('PUT', '/v1/a/c/o', '1.00000', 'n', 'rk', 'uk'), '6d0fef357b43f94052d014d5a7823cbb0b56c173')
    assert.equal(pyQuote("a b/é!*'()~-_."), "a%20b/%C3%A9%21%2A%27%28%29~-_.")
  })
})

describe('container_sync middleware', () => {
  let f: SwiftFixture
  let proxy: ReturnType<typeof createSwiftProxy>
  let settings: ContainerSyncSettings
  let core: ReturnType<typeof createCore>
  let A: string
  let bob: Awaited<ReturnType<SwiftFixture['user']>>
  const call = (method: string, url: string, o: { token?: string | null; headers?: Record<string, string>; body?: string } = {}) => {
    const headers = { ...o.headers }
    const token = o.token === undefined ? f.h.adminToken : o.token
    if (token) headers['x-auth-token'] = token
    return proxy.api.inject({ method: method as 'GET', url, headers, payload: o.body })
  }
  const signed = (method: string, path: string, ts: string, userKey: string, realm = 'cumulo', key?: string) => {
    const nonce = 'abc123'
    const sig = syncSignature(method, path, ts, nonce, key ?? settings.realms.key(realm)!, userKey)
    return { 'x-container-sync-auth': `${realm} ${nonce} ${sig}`, 'x-timestamp': ts }
  }

  before(async () => {
    f = await swiftFixture()
    core = createCore({ database: 'sqlite::memory:', logLevel: 'silent' })
    const file = join(dir, 'mw-realms.conf')
    writeFileSync(file, '[other]\nkey = ok\ncluster_far = https://far.example/v1/\n')
    settings = containerSyncSettings({ realmsFile: file,
      self: { realm: 'cumulo', cluster: 'local', endpoint: 'http://127.0.0.1:1/v1/', hashConfig: f.store.cluster.hashConfig } })
    proxy = createSwiftProxy({ log: core.log, policy: core.policy, auth: () => f.h.identity.auth, client: f.store.client,
      middlewares: defaultMiddlewares(), containerSync: settings })
    A = `/v1/${f.account}`
    bob = await f.user('sync-bob')
  })
  after(async () => {
    await proxy?.api.close()
    await core?.db.close()
    await f?.close()
  })

  it('/info lists the realms, this cluster marked current', async () => {
    const info = JSON.parse((await call('GET', '/info', { token: null })).body)
    assert.deepEqual(info.container_sync, { realms: { OTHER: { clusters: { FAR: {} } }, CUMULO: { clusters: { LOCAL: { current: true } } } } })
  })

  it('checks X-Container-Sync-To on container PUT/POST', async () => {
    const put = (to: string) => call('PUT', `${A}/src`, { headers: { 'x-container-sync-to': to, 'x-container-sync-key': 'k' } })
    const evil = await put('http://evil.example/v1/AUTH_x/c')
    assert.equal(evil.statusCode, 400)
    assert.equal(evil.body, "Invalid host 'evil.example' in X-Container-Sync-To")
    assert.equal((await put('//nope/local/AUTH_x/c')).body, "No realm key for 'nope'")
    assert.equal((await put(`//cumulo/local/AUTH_${bob.projectId}/dst`)).statusCode, 201)
    assert.equal((await put('http://127.0.0.1:8080/v1/AUTH_x/c')).statusCode, 202, 'a plain URL to an allowed host')
    const head = await call('HEAD', `${A}/src`)
    assert.equal(head.headers['x-container-sync-to'], 'http://127.0.0.1:8080/v1/AUTH_x/c')
    assert.equal(head.headers['x-container-sync-key'], 'k')
    assert.equal((await call('HEAD', `${A}/src`, { token: bob.token })).statusCode, 403)
  })

  it('lets a correctly signed request in without a token, with its X-Timestamp', async () => {
    assert.equal((await call('PUT', `/v1/${bob.account}/dst`, { token: bob.token, headers: { 'x-container-sync-key': 'uk' } })).statusCode, 201)
    const path = `/v1/${bob.account}/dst/a%20b`
    const put = await call('PUT', path, { token: null, body: 'synced', headers: signed('PUT', path, '1700000000.12345', 'uk') })
    assert.equal(put.statusCode, 201)
    const got = await call('GET', path, { token: bob.token })
    assert.equal(got.body, 'synced')
    assert.equal(got.headers['x-timestamp'], '1700000000.12345')
    const headSig = signed('HEAD', path, '1700000000.12345', 'uk')
    assert.equal((await call('HEAD', path, { token: null, headers: headSig })).statusCode, 200)
    const del = await call('DELETE', path, { token: null, headers: signed('DELETE', path, '1700000001.00000', 'uk') })
    assert.equal(del.statusCode, 204)
  })

  it('refuses bad signatures with Swift\'s 401', async () => {
    const path = `/v1/${bob.account}/dst/x`
    const wrongUser = await call('PUT', path, { token: null, body: 'x', headers: signed('PUT', path, '1700000000.00000', 'other') })
    assert.equal(wrongUser.statusCode, 401)
    assert.equal(wrongUser.body, 'X-Container-Sync-Auth header not valid; contact cluster operator for support.')
    assert.equal(wrongUser.headers['www-authenticate'], `SwiftContainerSync realm="${bob.account}"`)
    const wrongPath = await call('PUT', path, { token: null, body: 'x', headers: signed('PUT', `${path}2`, '1700000000.00000', 'uk') })
    assert.equal(wrongPath.statusCode, 401)
    const badForm = await call('PUT', path, { token: null, body: 'x', headers: { 'x-container-sync-auth': 'cumulo onlytwo', 'x-timestamp': '1' } })
    assert.equal(badForm.statusCode, 401)
    const tampered = signed('PUT', path, '1700000000.00000', 'uk')
    tampered['x-timestamp'] = '1700000009.00000'
    assert.equal((await call('PUT', path, { token: null, body: 'x', headers: tampered })).statusCode, 401)
    const noUserKey = `/v1/${bob.account}/nokey/o`
    await call('PUT', `/v1/${bob.account}/nokey`, { token: bob.token })
    assert.equal((await call('PUT', noUserKey, { token: null, body: 'x', headers: signed('PUT', noUserKey, '1.00000', '') })).statusCode, 401)
  })

  it('the realm-less form: the container\'s sync key and an X-Timestamp', async () => {
    const path = `/v1/${bob.account}/dst/keyed`
    const ok = await call('PUT', path, { token: null, body: 'k', headers: { 'x-container-sync-key': 'uk', 'x-timestamp': '1700000002.00000' } })
    assert.equal(ok.statusCode, 201)
    assert.equal((await call('HEAD', path, { token: bob.token })).headers['x-timestamp'], '1700000002.00000')
    assert.equal((await call('PUT', path, { token: null, body: 'k', headers: { 'x-container-sync-key': 'bad', 'x-timestamp': '1700000003.00000' } })).statusCode, 401)
    assert.equal((await call('PUT', path, { token: null, body: 'k', headers: { 'x-container-sync-key': 'uk' } })).statusCode, 401)
    assert.equal((await call('GET', path, { token: null, headers: { 'x-container-sync-key': 'uk', 'x-timestamp': '1' } })).statusCode, 401,
      'the key opens writes (and HEAD), not reads')
  })

  it('ignores a client\'s own X-Timestamp (Swift\'s gatekeeper)', async () => {
    const path = `/v1/${bob.account}/dst/clock`
    assert.equal((await call('PUT', path, { token: bob.token, body: 'c', headers: { 'x-timestamp': '1000000000.00000' } })).statusCode, 201)
    const ts = Number((await call('HEAD', path, { token: bob.token })).headers['x-timestamp'])
    assert.ok(ts > Date.now() / 1000 - 60, `timestamp ${ts} is now, not the client's`)
  })

  it('allow_full_urls = false takes realm values only', async () => {
    const strict = createSwiftProxy({ log: core.log, policy: core.policy, auth: () => f.h.identity.auth, client: f.store.client,
      middlewares: defaultMiddlewares(), containerSync: { ...settings, allowFullUrls: false } })
    const r = await strict.api.inject({ method: 'POST', url: `${A}/src`, headers: { 'x-auth-token': f.h.adminToken,
      'x-container-sync-to': 'http://127.0.0.1/v1/AUTH_x/c' } })
    assert.equal(r.statusCode, 400)
    assert.match(r.body, /^Full URLs are not allowed for X-Container-Sync-To values/)
    await strict.api.close()
  })
})
