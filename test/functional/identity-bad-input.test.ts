// Bad input gets the right 4xx with Keystone's JSON error, and changes nothing.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type IdentityHarness, identityHarness } from '../../src/identity/testing.ts'

describe('identity bad input', () => {
  let h: IdentityHarness
  before(async () => { h = await identityHarness() })
  after(async () => { await h?.close() })

  const count = async (path: string, key: string) => JSON.parse((await h.call('GET', path)).body)[key].length
  const isKeystoneError = (body: string, code: number) => {
    const e = JSON.parse(body).error
    assert.equal(e.code, code)
    assert.equal(typeof e.title, 'string')
    assert.ok(e.message.length > 0)
  }

  test('malformed JSON → 400', async () => {
    const before = await count('/v3/projects', 'projects')
    for (const [method, url] of [['POST', '/v3/projects'], ['POST', '/v3/users'], ['POST', '/v3/auth/tokens'], ['POST', '/v3/roles']]) {
      const r = await h.call(method!, url!, { body: '{"project": {"name": ', token: url === '/v3/auth/tokens' ? null : undefined })
      assert.equal(r.statusCode, 400, `${method} ${url}`)
      isKeystoneError(r.body, 400)
    }
    assert.equal(await count('/v3/projects', 'projects'), before)
  })

  test('wrong types → 400, nothing created', async () => {
    const cases: [string, unknown][] = [
      ['/v3/projects', { project: { name: 12 } }],
      ['/v3/projects', { project: { name: 'p', enabled: 'yes' } }],
      ['/v3/users', { user: { name: ['x'] } }],
      ['/v3/users', { user: { name: 'u', enabled: 1 } }],
      ['/v3/roles', { role: { name: null } }],
      ['/v3/groups', { group: {} }],
      ['/v3/domains', { domain: { name: 'd', enabled: 'true' } }],
      ['/v3/projects', { project: 'p' }],
      ['/v3/projects', []],
    ]
    const users = await count('/v3/users', 'users')
    const projects = await count('/v3/projects', 'projects')
    for (const [url, body] of cases) {
      const r = await h.call('POST', url, { body })
      assert.equal(r.statusCode, 400, `${url} ${JSON.stringify(body)} → ${r.statusCode} ${r.body}`)
      isKeystoneError(r.body, 400)
    }
    assert.equal(await count('/v3/users', 'users'), users)
    assert.equal(await count('/v3/projects', 'projects'), projects)
  })

  test('unknown fields are rejected where Keystone rejects them', async () => {
    const r = await h.call('POST', `/v3/users/${h.adminUserId}/application_credentials`, { body: { application_credential: { name: 'ac', bogus: true } } })
    assert.equal(r.statusCode, 400)
    isKeystoneError(r.body, 400)
    const list = JSON.parse((await h.call('GET', `/v3/users/${h.adminUserId}/application_credentials`)).body).application_credentials
    assert.equal(list.length, 0)
    const t = await h.call('POST', `/v3/auth/tokens`, { token: null, body: { auth: { identity: { methods: ['password'], password: { user: { id: h.adminUserId, password: 'x', bogus: 1 } } } } } })
    assert.ok(t.statusCode === 400 || t.statusCode === 401, String(t.statusCode))
  })

  test('an oversized body → 413', async () => {
    const r = await h.call('POST', '/v3/projects', { body: { project: { name: 'big', description: 'x'.repeat(2 * 1024 * 1024) } } })
    assert.equal(r.statusCode, 413)
    isKeystoneError(r.body, 413)
    assert.equal(JSON.parse((await h.call('GET', '/v3/projects?name=big')).body).projects.length, 0)
  })

  test('unknown ids → 404 with Keystone\'s message', async () => {
    for (const url of ['/v3/projects/nope', '/v3/users/nope', '/v3/groups/nope', '/v3/roles/nope', '/v3/domains/nope',
      '/v3/regions/nope', '/v3/services/nope', '/v3/endpoints/nope', '/v3/credentials/nope', '/v3/policies/nope']) {
      const r = await h.call('GET', url)
      assert.equal(r.statusCode, 404, url)
      isKeystoneError(r.body, 404)
      assert.match(JSON.parse(r.body).error.message, /Could not find/)
    }
    const r = await h.call('PATCH', '/v3/projects/nope', { body: { project: { description: 'x' } } })
    assert.equal(r.statusCode, 404)
    assert.equal((await h.call('DELETE', '/v3/users/nope')).statusCode, 404)
  })

  test('no token → 401 JSON; a garbage token → 401 JSON', async () => {
    for (const token of [null, 'garbage', 'AQAAAAE' + 'A'.repeat(200)]) {
      const r = await h.call('GET', '/v3/projects', { token })
      assert.equal(r.statusCode, 401)
      isKeystoneError(r.body, 401)
    }
  })

  test('every response carries a request id', async () => {
    const r = await h.call('GET', '/v3/projects/nope')
    assert.match(String(r.headers['x-openstack-request-id']), /^req-[0-9a-f-]{36}$/)
  })
})
