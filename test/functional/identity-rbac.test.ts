// RBAC across the identity API: readers cannot write, members of one project cannot see or
// change another, non-admins cannot create users or assign roles.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type IdentityHarness, identityHarness } from '../../src/identity/testing.ts'

describe('identity RBAC', () => {
  let h: IdentityHarness
  let projA: string, projB: string, member: string, reader: string
  let memberTok: string, readerTok: string
  const roles: Record<string, string> = {}

  before(async () => {
    h = await identityHarness()
    for (const r of JSON.parse((await h.call('GET', '/v3/roles')).body).roles) roles[r.name] = r.id
    const mk = async (name: string) => JSON.parse((await h.call('POST', '/v3/projects', { body: { project: { name } } })).body).project.id
    projA = await mk('rbac-a'); projB = await mk('rbac-b')
    const mkUser = async (name: string) => JSON.parse((await h.call('POST', '/v3/users', { body: { user: { name, password: 'pw-' + name } } })).body).user.id
    member = await mkUser('rbac-member'); reader = await mkUser('rbac-reader')
    assert.equal((await h.call('PUT', `/v3/projects/${projA}/users/${member}/roles/${roles.member}`)).statusCode, 204)
    assert.equal((await h.call('PUT', `/v3/projects/${projA}/users/${reader}/roles/${roles.reader}`)).statusCode, 204)
    memberTok = await h.login(member, 'pw-rbac-member', { project: { id: projA } })
    readerTok = await h.login(reader, 'pw-rbac-reader', { project: { id: projA } })
  })
  after(async () => { await h?.close() })

  test('a member of project A sees A but neither sees nor changes B', async () => {
    assert.equal((await h.call('GET', `/v3/projects/${projA}`, { token: memberTok })).statusCode, 200)
    assert.equal((await h.call('GET', `/v3/projects/${projB}`, { token: memberTok })).statusCode, 403)
    assert.equal((await h.call('PATCH', `/v3/projects/${projB}`, { token: memberTok, body: { project: { description: 'x' } } })).statusCode, 403)
    assert.equal((await h.call('DELETE', `/v3/projects/${projB}`, { token: memberTok })).statusCode, 403)
    assert.equal((await h.call('GET', '/v3/projects', { token: memberTok })).statusCode, 403)
    const b = JSON.parse((await h.call('GET', `/v3/projects/${projB}`)).body).project
    assert.equal(b.description, '')
  })

  test('a token scoped to A cannot be used to reach B through the token API', async () => {
    const r = await h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
      identity: { methods: ['token'], token: { id: memberTok } }, scope: { project: { id: projB } } } } })
    assert.equal(r.statusCode, 401)
    assert.equal(JSON.parse(r.body).error.code, 401)
  })

  test('a non-admin cannot create users, projects or roles, nor assign roles', async () => {
    for (const tok of [memberTok, readerTok]) {
      const u = await h.call('POST', '/v3/users', { token: tok, body: { user: { name: 'nope' } } })
      assert.equal(u.statusCode, 403)
      assert.match(JSON.parse(u.body).error.message, /not authorized/)
      assert.equal((await h.call('POST', '/v3/projects', { token: tok, body: { project: { name: 'nope' } } })).statusCode, 403)
      assert.equal((await h.call('POST', '/v3/roles', { token: tok, body: { role: { name: 'nope' } } })).statusCode, 403)
      assert.equal((await h.call('PUT', `/v3/projects/${projA}/users/${member}/roles/${roles.admin}`, { token: tok })).statusCode, 403)
      assert.equal((await h.call('PUT', `/v3/projects/${projB}/users/${member}/roles/${roles.member}`, { token: tok })).statusCode, 403)
    }
    const users = JSON.parse((await h.call('GET', '/v3/users?name=nope')).body).users
    assert.equal(users.length, 0)
    const ra = JSON.parse((await h.call('GET', `/v3/role_assignments?user.id=${member}`)).body).role_assignments
    assert.equal(ra.length, 1, 'the member still has exactly its one assignment')
  })

  test('a reader cannot write, even in its own project', async () => {
    assert.equal((await h.call('GET', `/v3/projects/${projA}`, { token: readerTok })).statusCode, 200)
    assert.equal((await h.call('PATCH', `/v3/projects/${projA}`, { token: readerTok, body: { project: { description: 'r' } } })).statusCode, 403)
    assert.equal((await h.call('PUT', `/v3/projects/${projA}/tags/x`, { token: readerTok })).statusCode, 403)
    assert.equal((await h.call('POST', '/v3/groups', { token: readerTok, body: { group: { name: 'g' } } })).statusCode, 403)
    assert.equal((await h.call('PATCH', `/v3/users/${member}`, { token: readerTok, body: { user: { enabled: false } } })).statusCode, 403)
    const m = JSON.parse((await h.call('GET', `/v3/users/${member}`)).body).user
    assert.equal(m.enabled, true)
  })

  test('users see themselves but not other users; cannot list users', async () => {
    assert.equal((await h.call('GET', `/v3/users/${member}`, { token: memberTok })).statusCode, 200)
    assert.equal((await h.call('GET', `/v3/users/${reader}`, { token: memberTok })).statusCode, 403)
    assert.equal((await h.call('GET', '/v3/users', { token: memberTok })).statusCode, 403)
    assert.equal((await h.call('GET', `/v3/users/${member}/projects`, { token: memberTok })).statusCode, 200)
    assert.equal((await h.call('GET', `/v3/users/${reader}/projects`, { token: memberTok })).statusCode, 403)
  })

  test('a token of another user cannot be validated or revoked by a non-admin', async () => {
    const h1 = { 'x-subject-token': readerTok }
    assert.equal((await h.call('GET', '/v3/auth/tokens', { token: memberTok, headers: h1 })).statusCode, 403)
    assert.equal((await h.call('DELETE', '/v3/auth/tokens', { token: memberTok, headers: h1 })).statusCode, 403)
    assert.equal((await h.call('GET', '/v3/auth/tokens', { token: memberTok, headers: { 'x-subject-token': memberTok } })).statusCode, 200)
    assert.equal((await h.call('GET', '/v3/auth/tokens', { token: readerTok, headers: h1 })).statusCode, 200)
  })
})
