import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { type IdentityHarness, identityHarness } from '../testing.ts'

// Users, passwords (with [security_compliance]) and users' groups, through the API.
// Projects, domains and role assignments are written straight to the database so these
// tests depend only on the users and groups APIs. Names are unique per run: the harness
// may share one PostgreSQL database between runs (IDENTITY_TEST_DB).

const uniq = (p: string) => `${p}-${randomUUID().slice(0, 8)}`
const json = (r: { body: string }) => JSON.parse(r.body)

/** Helpers over one harness. */
function kit(h: IdentityHarness) {
  const db = h.identity.ctx.db
  const now = () => new Date().toISOString()
  return {
    db,
    async user(body: Record<string, unknown> = {}, password = 'secret-1') {
      const r = await h.call('POST', '/v3/users', { body: { user: { name: uniq('u'), password, ...body } } })
      assert.equal(r.statusCode, 201, r.body)
      return json(r).user as Record<string, any>
    },
    async project(domainId = 'default', isDomain = false) {
      const id = randomUUID().replace(/-/g, '')
      await db.insertInto('projects').values({ id, name: uniq('p'), domain_id: domainId, parent_id: null, description: '',
        enabled: 1, is_domain: isDomain ? 1 : 0, extra: '{}', created_at: now() }).execute()
      return id
    },
    async domain() {
      const id = randomUUID().replace(/-/g, '')
      await db.insertInto('domains').values({ id, name: uniq('d'), description: '', enabled: 1, extra: '{}', created_at: now() }).execute()
      return id
    },
    async grant(actorId: string, roleName: string, target: { project?: string; domain?: string }, group = false) {
      const role = await db.selectFrom('roles').select('id').where('name', '=', roleName).where('domain_id', '=', '').executeTakeFirstOrThrow()
      const kind = target.project ? 'Project' : 'Domain'
      await db.insertInto('assignments').values({ type: `${group ? 'Group' : 'User'}${kind}`, actor_id: actorId,
        target_id: (target.project ?? target.domain)!, role_id: role.id, inherited: 0 }).execute()
      h.identity.ctx.changed()
    },
    /** Whether a token still validates (as the admin sees it). */
    async valid(token: string) {
      const r = await h.call('GET', '/v3/auth/tokens', { headers: { 'x-subject-token': token } })
      assert.ok(r.statusCode === 200 || r.statusCode === 404, r.body)
      return r.statusCode === 200
    },
    async auth(userId: string, password: string, scope?: unknown) {
      return h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
        identity: { methods: ['password'], password: { user: { id: userId, password } } }, ...(scope ? { scope } : {}) } } })
    },
    changePw(userId: string, original: string, password: string, token: string | null = null) {
      return h.call('POST', `/v3/users/${userId}/password`, { token, body: { user: { original_password: original, password } } })
    },
  }
}

function assertError(r: { statusCode: number; body: string }, status: number, message?: string | RegExp) {
  assert.equal(r.statusCode, status, r.body)
  const e = json(r).error
  assert.equal(e.code, status)
  if (typeof message === 'string') assert.equal(e.message, message)
  else if (message) assert.match(e.message, message)
}

// Revocation events cover tokens issued up to a millisecond after them.
const tick = () => sleep(5)

describe('users: create, show, list', () => {
  let h: IdentityHarness
  let k: ReturnType<typeof kit>
  before(async () => { h = await identityHarness(); k = kit(h) })
  after(async () => { await h.close() })

  it('creates a user in the default domain with Keystone\'s shape and never a password', async () => {
    const name = uniq('alice')
    const r = await h.call('POST', '/v3/users', { body: { user: { name: `  ${name} `, password: 'pw', email: 'a@x.org',
      description: 'desc', enabled: false, project_id: 'p-extra' } } })
    assert.equal(r.statusCode, 201, r.body)
    const u = json(r).user
    assert.match(u.id, /^[0-9a-f]{32}$/)
    assert.equal(u.name, name)
    assert.equal(u.domain_id, 'default')
    assert.equal(u.enabled, false)
    assert.equal(u.email, 'a@x.org')
    assert.equal(u.description, 'desc')
    assert.equal(u.project_id, 'p-extra')
    assert.equal(u.password_expires_at, null)
    assert.deepEqual(u.options, {})
    assert.match(u.links.self, new RegExp(`^http://[^/]+/v3/users/${u.id}$`))
    assert.ok(!('default_project_id' in u))
    assert.ok(!('password' in u) && !('password_hash' in u) && !r.body.includes('scrypt'))
    const got = await h.call('GET', `/v3/users/${u.id}`)
    assert.equal(got.statusCode, 200)
    assert.deepEqual(json(got).user, u)
  })

  it('omits description when none was given, keeps a default project, and HEAD works', async () => {
    const p = await k.project()
    const u = await k.user({ default_project_id: p })
    assert.ok(!('description' in u))
    assert.equal(u.default_project_id, p)
    assert.equal(u.enabled, true)
    const head = await h.call('HEAD', `/v3/users/${u.id}`)
    assert.equal(head.statusCode, 200)
  })

  it('creates a user without a password, who cannot log in', async () => {
    const r = await h.call('POST', '/v3/users', { body: { user: { name: uniq('nopw') } } })
    assert.equal(r.statusCode, 201)
    const u = json(r).user
    assert.equal((await k.auth(u.id, '')).statusCode, 401)
  })

  it('creates users in another domain; names are unique per domain only', async () => {
    const d = await k.domain()
    const name = uniq('same')
    const a = await k.user({ name })
    const b = await k.user({ name, domain_id: d })
    assert.equal(b.domain_id, d)
    assert.notEqual(a.id, b.id)
    const dup = await h.call('POST', '/v3/users', { body: { user: { name, domain_id: d } } })
    assertError(dup, 409, `Conflict occurred attempting to store user - Duplicate entry found with name ${name} at domain ID ${d}.`)
    const dup2 = await h.call('POST', '/v3/users', { body: { user: { name: ` ${name}` } } })
    assertError(dup2, 409, /Duplicate entry found with name/)
  })

  it('rejects bad input with 400 and changes nothing', async () => {
    const before = (await k.db.selectFrom('users').select('id').execute()).length
    const bad: unknown[] = [
      '{"user": {"name": "x"', // malformed JSON
      {},
      { user: {} },
      { user: { name: '' } },
      { user: { name: '   ' } },
      { user: { name: 42 } },
      { user: { name: 'x'.repeat(256) } },
      { user: { name: uniq('x'), enabled: 'true' } },
      { user: { name: uniq('x'), password: 5 } },
      { user: { name: uniq('x'), description: 5 } },
      { user: { name: uniq('x'), default_project_id: 5 } },
      { user: { name: uniq('x'), domain_id: 'bad id!' } },
      { user: { name: uniq('x') }, extra_top: 1 },
      { user: { name: uniq('x'), options: { no_such_option: true } } },
      { user: { name: uniq('x'), options: { lock_password: 'yes' } } },
      { user: { name: uniq('x'), options: { multi_factor_auth_rules: [['password', 'password']] } } },
      { user: { name: uniq('x'), options: { multi_factor_auth_rules: [['password'], ['password']] } } },
      { user: { name: uniq('x'), options: { multi_factor_auth_rules: [[]] } } },
      { user: { name: uniq('x'), options: { multi_factor_auth_rules: ['password'] } } },
      { user: { name: uniq('x'), federated: [{ idp_id: 'x' }] } },
      { user: { name: uniq('x'), password: 'p'.repeat(4097) } },
    ]
    for (const body of bad) {
      const r = await h.call('POST', '/v3/users', { body })
      assert.equal(r.statusCode, 400, `${JSON.stringify(body).slice(0, 80)} → ${r.body}`)
      assert.equal(json(r).error.code, 400)
    }
    assertError(await h.call('POST', '/v3/users', { body: { user: { name: uniq('x'), federated: [{ idp_id: 'idp1',
      protocols: [{ protocol_id: 'saml2', unique_id: 'u' }] }] } } }), 400, 'Could not find Identity Provider: idp1')
    const dp = await k.project('default', true)
    assertError(await h.call('POST', '/v3/users', { body: { user: { name: uniq('x'), default_project_id: dp } } }), 400,
      `User's default project ID cannot be a domain ID: ${dp}`)
    assert.equal((await k.db.selectFrom('users').select('id').execute()).length, before)
  })

  it('404s for an unknown domain (Tempest test_create_user_for_non_existent_domain)', async () => {
    const r = await h.call('POST', '/v3/users', { body: { user: { name: uniq('x'), domain_id: 'f00d', password: 'p' } } })
    assertError(r, 404, 'Could not find domain: f00d.')
  })

  it('stores valid options and shows them', async () => {
    const opts = { ignore_password_expiry: true, lock_password: false, multi_factor_auth_enabled: true,
      multi_factor_auth_rules: [['password', 'totp'], ['password']], ignore_user_inactivity: null }
    const u = await k.user({ options: opts })
    assert.deepEqual(u.options, { ignore_password_expiry: true, lock_password: false, multi_factor_auth_enabled: true,
      multi_factor_auth_rules: [['password', 'totp'], ['password']] })
  })

  it('lists users with name, domain_id, enabled and inexact filters', async () => {
    const d = await k.domain()
    const tag = uniq('lst')
    const a = await k.user({ name: `${tag}-a`, domain_id: d })
    const b = await k.user({ name: `${tag}-b`, enabled: false })
    const all = json(await h.call('GET', '/v3/users')).users.map((u: any) => u.id)
    assert.ok(all.includes(a.id) && all.includes(b.id) && all.includes(h.adminUserId))
    const list = async (q: string) => {
      const r = await h.call('GET', `/v3/users?${q}`)
      assert.equal(r.statusCode, 200, r.body)
      const body = json(r)
      assert.ok(body.links.self.endsWith(`/v3/users?${q}`))
      return body.users.map((u: any) => u.id) as string[]
    }
    assert.deepEqual(await list(`name=${tag}-a`), [a.id])
    assert.deepEqual(await list(`domain_id=${d}`), [a.id])
    const disabled = await list('enabled=false')
    assert.ok(disabled.includes(b.id) && !disabled.includes(a.id))
    const enabled = await list('enabled=True')
    assert.ok(enabled.includes(a.id) && !enabled.includes(b.id))
    assert.deepEqual((await list(`name__startswith=${tag}`)).sort(), [a.id, b.id].sort())
    assert.deepEqual(await list(`name__iendswith=${tag.toUpperCase()}-B`), [b.id])
    assert.deepEqual(await list(`name__contains=${tag.toUpperCase()}`), [])
    assert.deepEqual(await list('name=nobody-here'), [])
    assert.deepEqual(await list('unknown_filter=1&name=' + `${tag}-a`), [a.id])
    // The list shows users exactly as GET does.
    const shown = json(await h.call('GET', `/v3/users?name=${tag}-a`)).users[0]
    assert.deepEqual(shown, a)
  })

  it('rejects bad list filters', async () => {
    assertError(await h.call('GET', '/v3/users?enabled=maybe'), 400, /enabled/)
    assertError(await h.call('GET', '/v3/users?name='), 400)
    assertError(await h.call('GET', '/v3/users?password_expires_at=xx:2020-01-01T00:00:00Z'), 400,
      "The given operator xx is not valid. It must be one of the following: 'eq', 'neq', 'lt', 'lte', 'gt', or 'gte'.")
    assertError(await h.call('GET', '/v3/users?password_expires_at=lt:yesterday'), 400, /^Timestamp not in expected format/)
    assertError(await h.call('GET', '/v3/users?idp_id=x'), 501, /federation/)
  })

  it('404s for unknown users on every route', async () => {
    assertError(await h.call('GET', '/v3/users/nope'), 404, 'Could not find user: nope.')
    assertError(await h.call('PATCH', '/v3/users/nope', { body: { user: { name: 'x' } } }), 404, 'Could not find user: nope.')
    assertError(await h.call('DELETE', '/v3/users/nope'), 404, 'Could not find user: nope.')
    assertError(await h.call('GET', '/v3/users/nope/groups'), 404, 'Could not find user: nope.')
  })

  it('needs a token', async () => {
    assertError(await h.call('GET', '/v3/users', { token: null }), 401)
    assertError(await h.call('POST', '/v3/users', { token: null, body: { user: { name: 'x' } } }), 401)
  })
})

describe('users: update and delete', () => {
  let h: IdentityHarness
  let k: ReturnType<typeof kit>
  before(async () => { h = await identityHarness({ uniqueLastPasswordCount: 2 }); k = kit(h) })
  after(async () => { await h.close() })

  it('updates attributes as Tempest test_user_update does, and GET shows them', async () => {
    const u = await k.user({ description: 'd1', email: 'e1@x', enabled: false })
    const p = await k.project()
    const changes = { name: uniq('user2'), description: 'desc2', project_id: p, email: 'user2@testmail.tm', enabled: false }
    const r = await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { id: u.id, ...changes } } })
    assert.equal(r.statusCode, 200, r.body)
    const got = json(await h.call('GET', `/v3/users/${u.id}`)).user
    for (const [key, v] of Object.entries(changes)) {
      assert.equal(json(r).user[key], v)
      assert.equal(got[key], v)
    }
    assert.equal(got.domain_id, 'default')
  })

  it('sets and clears options and extra attributes; null removes an option', async () => {
    const u = await k.user({ options: { lock_password: true, ignore_user_inactivity: true } })
    const r = await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { options: { lock_password: null,
      multi_factor_auth_enabled: false }, team: 'blue', password_expires_at: '2000-01-01T00:00:00Z' } } })
    assert.equal(r.statusCode, 200, r.body)
    const v = json(r).user
    assert.deepEqual(v.options, { ignore_user_inactivity: true, multi_factor_auth_enabled: false })
    assert.equal(v.team, 'blue')
    assert.equal(v.password_expires_at, null)
    const p = await k.project()
    const set = json(await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { default_project_id: p } } })).user
    assert.equal(set.default_project_id, p)
    const cleared = json(await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { default_project_id: null } } })).user
    assert.ok(!('default_project_id' in cleared))
    assert.equal(cleared.team, 'blue')
  })

  it('rejects bad updates and changes nothing', async () => {
    const u = await k.user({ email: 'keep@x' })
    const other = await k.user()
    const d = await k.domain()
    const cases: [unknown, number, string | RegExp | undefined][] = [
      ['{"user":', 400, /not valid JSON/],
      [{ user: {} }, 400, undefined],
      [{}, 400, undefined],
      [{ user: { name: '' } }, 400, undefined],
      [{ user: { enabled: 1 } }, 400, undefined],
      [{ user: { options: { foo: true } } }, 400, undefined],
      [{ user: { id: 'other' } }, 400, 'Cannot change ID'],
      [{ user: { domain_id: d } }, 400, 'Cannot change Domain ID'],
      [{ user: { name: other.name, email: 'changed@x' } }, 409,
        `Conflict occurred attempting to store user - Duplicate entry found with name ${other.name}.`],
    ]
    for (const [body, status, msg] of cases) assertError(await h.call('PATCH', `/v3/users/${u.id}`, { body }), status, msg)
    const got = json(await h.call('GET', `/v3/users/${u.id}`)).user
    assert.deepEqual(got, u)
    // Sending the same domain is not a change.
    assert.equal((await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { domain_id: 'default' } } })).statusCode, 200)
  })

  it('disabling a user revokes their tokens; enabling lets them log in again', async () => {
    const u = await k.user({}, 'pw-dis')
    const token = await h.login(u.id, 'pw-dis')
    assert.equal(await k.valid(token), true)
    assert.equal((await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { enabled: false } } })).statusCode, 200)
    assert.equal(await k.valid(token), false)
    await tick()
    assertError(await k.auth(u.id, 'pw-dis'), 401)
    assert.equal((await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { enabled: true } } })).statusCode, 200)
    await tick()
    assert.equal((await k.auth(u.id, 'pw-dis')).statusCode, 201)
  })

  it('an admin password reset revokes tokens, records history, and is not checked against it', async () => {
    const u = await k.user({}, 'first')
    const token = await h.login(u.id, 'first')
    const r = await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { password: 'second' } } })
    assert.equal(r.statusCode, 200, r.body)
    assert.ok(!r.body.includes('second'))
    assert.equal(await k.valid(token), false)
    await tick()
    assertError(await k.auth(u.id, 'first'), 401)
    assert.equal((await k.auth(u.id, 'second')).statusCode, 201)
    // Tempest test_password_history_not_enforced_in_admin_reset: the same password again.
    assert.equal((await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { password: 'second' } } })).statusCode, 200)
    const hist = await k.db.selectFrom('password_history').select('password_hash').where('user_id', '=', u.id).execute()
    assert.equal(hist.length, 3)
    // Other updates leave tokens alone.
    await tick()
    const t2 = await h.login(u.id, 'second')
    await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { description: 'x' } } })
    assert.equal(await k.valid(t2), true)
  })

  it('deletes a user with memberships, assignments, credentials, app credentials and history', async () => {
    const u = await k.user({}, 'pw-del')
    const p = await k.project()
    await k.grant(u.id, 'member', { project: p })
    const token = await h.login(u.id, 'pw-del', { project: { id: p } })
    const g = json(await h.call('POST', '/v3/groups', { body: { group: { name: uniq('g') } } })).group
    assert.equal((await h.call('PUT', `/v3/groups/${g.id}/users/${u.id}`)).statusCode, 204)
    const t = new Date().toISOString()
    await k.db.insertInto('credentials').values({ id: uniq('c'), user_id: u.id, project_id: p, type: 'ec2', blob: '{}',
      extra: '{}', created_at: t }).execute()
    const ac = uniq('ac')
    await k.db.insertInto('application_credentials').values({ id: ac, name: 'ac', user_id: u.id, project_id: p, system: null,
      secret_hash: 'x', description: '', expires_at: null, unrestricted: 0, created_at: t }).execute()
    const roleId = (await k.db.selectFrom('roles').select('id').where('name', '=', 'member').executeTakeFirstOrThrow()).id
    await k.db.insertInto('app_cred_roles').values({ app_cred_id: ac, role_id: roleId }).execute()
    const rule = uniq('ar')
    await k.db.insertInto('access_rules').values({ id: rule, user_id: u.id, service: 'compute', path: '/x', method: 'GET' }).execute()
    await k.db.insertInto('app_cred_access_rules').values({ app_cred_id: ac, access_rule_id: rule }).execute()
    // A rule no credential uses any more still belongs to the user, and goes with them too.
    await k.db.insertInto('access_rules').values({ id: uniq('ar'), user_id: u.id, service: 'image', path: '/y', method: 'GET' }).execute()

    const r = await h.call('DELETE', `/v3/users/${u.id}`)
    assert.equal(r.statusCode, 204)
    assert.equal(r.body, '')
    assert.equal(await k.valid(token), false)
    assertError(await h.call('GET', `/v3/users/${u.id}`), 404)
    const count = async (table: any, col: string, v: string) =>
      (await k.db.selectFrom(table).select(col as any).where(col as any, '=', v).execute()).length
    assert.equal(await count('user_groups', 'user_id', u.id), 0)
    assert.equal(await count('assignments', 'actor_id', u.id), 0)
    assert.equal(await count('credentials', 'user_id', u.id), 0)
    assert.equal(await count('application_credentials', 'user_id', u.id), 0)
    assert.equal(await count('app_cred_roles', 'app_cred_id', ac), 0)
    assert.equal(await count('app_cred_access_rules', 'app_cred_id', ac), 0)
    assert.equal(await count('access_rules', 'user_id', u.id), 0)
    assert.equal(await count('password_history', 'user_id', u.id), 0)
    assert.equal(json(await h.call('GET', `/v3/groups/${g.id}/users`)).users.length, 0)
    assertError(await h.call('DELETE', `/v3/users/${u.id}`), 404)
  })
})

describe('users: RBAC', () => {
  let h: IdentityHarness
  let k: ReturnType<typeof kit>
  let memberTok: string, readerTok: string, member: Record<string, any>, other: Record<string, any>
  before(async () => {
    h = await identityHarness(); k = kit(h)
    const pa = await k.project()
    member = await k.user({}, 'pw-m')
    const reader = await k.user({}, 'pw-r')
    other = await k.user()
    await k.grant(member.id, 'member', { project: pa })
    await k.grant(reader.id, 'reader', { project: pa })
    memberTok = await h.login(member.id, 'pw-m', { project: { id: pa } })
    readerTok = await h.login(reader.id, 'pw-r', { project: { id: pa } })
  })
  after(async () => { await h.close() })

  it('members and readers cannot create, update, delete or list users', async () => {
    for (const token of [memberTok, readerTok]) {
      assertError(await h.call('POST', '/v3/users', { token, body: { user: { name: uniq('x') } } }), 403,
        'You are not authorized to perform the requested action: identity:create_user.')
      assertError(await h.call('PATCH', `/v3/users/${other.id}`, { token, body: { user: { name: uniq('x') } } }), 403)
      assertError(await h.call('PATCH', `/v3/users/${member.id}`, { token, body: { user: { enabled: false } } }), 403)
      assertError(await h.call('DELETE', `/v3/users/${other.id}`, { token }), 403)
      assertError(await h.call('GET', '/v3/users', { token }), 403)
    }
    assert.equal(json(await h.call('GET', `/v3/users/${other.id}`)).user.name, other.name)
  })

  it('a user sees themself and their groups but not other users', async () => {
    assert.equal((await h.call('GET', `/v3/users/${member.id}`, { token: memberTok })).statusCode, 200)
    assert.equal((await h.call('HEAD', `/v3/users/${member.id}`, { token: memberTok })).statusCode, 200)
    assertError(await h.call('GET', `/v3/users/${other.id}`, { token: memberTok }), 403)
    assert.equal((await h.call('HEAD', `/v3/users/${other.id}`, { token: memberTok })).statusCode, 403)
    assertError(await h.call('GET', '/v3/users/unknown-id', { token: memberTok }), 403)
    assert.equal((await h.call('GET', `/v3/users/${member.id}/groups`, { token: memberTok })).statusCode, 200)
    assertError(await h.call('GET', `/v3/users/${other.id}/groups`, { token: memberTok }), 403)
  })

  it('a domain-scoped reader lists only its domain\'s users', async () => {
    const d = await k.domain()
    const inD = await k.user({ domain_id: d }, 'pw-d')
    await k.user()
    await k.grant(inD.id, 'reader', { domain: d })
    const tok = await h.login(inD.id, 'pw-d', { domain: { id: d } })
    const r = await h.call('GET', '/v3/users', { token: tok })
    assert.equal(r.statusCode, 200, r.body)
    assert.deepEqual(json(r).users.map((u: any) => u.id), [inD.id])
    assert.deepEqual(json(await h.call('GET', '/v3/users?domain_id=default', { token: tok })).users, [])
  })
})

describe('users: self-service password change', () => {
  let h: IdentityHarness
  let k: ReturnType<typeof kit>
  before(async () => { h = await identityHarness(); k = kit(h) })
  after(async () => { await h.close() })

  it('changes the password without a token, revokes old tokens (Tempest test_user_update_own_password)', async () => {
    const u = await k.user({}, 'old-pw')
    const token = await h.login(u.id, 'old-pw')
    const r = await k.changePw(u.id, 'old-pw', 'new-pw')
    assert.equal(r.statusCode, 204, r.body)
    assert.equal(r.body, '')
    assert.equal(await k.valid(token), false)
    // Rescoping the old token fails too.
    const rescope = await h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: { identity: { methods: ['token'], token: { id: token } } } } })
    assert.notEqual(rescope.statusCode, 201)
    await tick()
    assertError(await k.auth(u.id, 'old-pw'), 401)
    assert.equal((await k.auth(u.id, 'new-pw')).statusCode, 201)
    const row = await k.db.selectFrom('users').selectAll().where('id', '=', u.id).executeTakeFirstOrThrow()
    assert.ok(row.password_created_at && Date.now() - Date.parse(row.password_created_at) < 60_000)
    assert.equal((await k.db.selectFrom('password_history').select('id').where('user_id', '=', u.id).execute()).length, 2)
  })

  it('ignores any token sent along, even an invalid one', async () => {
    const u = await k.user({}, 'a1')
    assert.equal((await k.changePw(u.id, 'a1', 'a2', 'garbage-token')).statusCode, 204)
    assert.equal((await k.changePw(u.id, 'a2', 'a3', h.adminToken)).statusCode, 204)
  })

  it('401s on a wrong original password or an unknown user, and changes nothing', async () => {
    const u = await k.user({}, 'right')
    assertError(await k.changePw(u.id, 'wrong', 'x'), 401, 'Error when changing user password: Invalid user / password')
    assertError(await k.changePw('no-such-user', 'right', 'x'), 401, 'Error when changing user password: Invalid user / password')
    assert.equal((await k.auth(u.id, 'right')).statusCode, 201)
  })

  it('401s for a disabled user', async () => {
    const u = await k.user({ enabled: false }, 'dis')
    assertError(await k.changePw(u.id, 'dis', 'x'), 401, `The account is disabled for user: ${u.id}.`)
  })

  it('refuses when lock_password is set', async () => {
    const u = await k.user({ options: { lock_password: true } }, 'locked-pw')
    assertError(await k.changePw(u.id, 'locked-pw', 'x'), 400, /^You cannot change your password at this time due to password policy/)
  })

  it('validates the body', async () => {
    const u = await k.user({}, 'v1')
    for (const body of [{}, { user: {} }, { user: { password: 'x' } }, { user: { original_password: 'v1' } },
      { user: { original_password: 'v1', password: 5 } }, { user: { original_password: 'v1', password: 'x', extra: 1 } }, '{bad']) {
      const r = await h.call('POST', `/v3/users/${u.id}/password`, { token: null, body })
      assert.equal(r.statusCode, 400, `${JSON.stringify(body)} → ${r.body}`)
    }
    assert.equal((await k.auth(u.id, 'v1')).statusCode, 201)
    assertError(await h.call('GET', `/v3/users/${u.id}/password`, { token: null }), 405)
  })
})

describe('users: security compliance', () => {
  it('enforces password history on self-service changes (Tempest test_password_history_check_self_service_api)', async () => {
    const h = await identityHarness({ uniqueLastPasswordCount: 2 })
    const k = kit(h)
    try {
      const u = await k.user({}, 'old')
      assert.equal((await k.changePw(u.id, 'old', 'new1')).statusCode, 204)
      const msg = 'The new password cannot be identical to a previous password. The total number which includes the new ' +
        'password must be unique is 2.'
      assertError(await k.changePw(u.id, 'new1', 'new1'), 400, msg)
      assertError(await k.changePw(u.id, 'new1', 'old'), 400, msg)
      assert.equal((await k.changePw(u.id, 'new1', 'new2')).statusCode, 204)
      // Only the last two count: 'old' is allowed again.
      assert.equal((await k.changePw(u.id, 'new2', 'old')).statusCode, 204)
      assert.equal((await k.auth(u.id, 'old')).statusCode, 201)
      // The history is trimmed.
      const n = (await k.db.selectFrom('password_history').select('id').where('user_id', '=', u.id).execute()).length
      assert.ok(n <= 3, `history has ${n} rows`)
    } finally { await h.close() }
  })

  it('with a count of 1 only the current password is refused', async () => {
    const h = await identityHarness({ uniqueLastPasswordCount: 1 })
    const k = kit(h)
    try {
      const u = await k.user({}, 'p1')
      assertError(await k.changePw(u.id, 'p1', 'p1'), 400, /must be unique is 1\.$/)
      assert.equal((await k.changePw(u.id, 'p1', 'p2')).statusCode, 204)
      assert.equal((await k.changePw(u.id, 'p2', 'p1')).statusCode, 204)
    } finally { await h.close() }
  })

  it('enforces the minimum password age on self-service passwords only', async () => {
    const h = await identityHarness({ minimumPasswordAge: 2 })
    const k = kit(h)
    try {
      const u = await k.user({}, 'a')
      // Set by an administrator: may be changed at once.
      assert.equal((await k.changePw(u.id, 'a', 'b')).statusCode, 204)
      assertError(await k.changePw(u.id, 'b', 'c'), 400, 'You cannot change your password at this time due to the minimum ' +
        'password age. Once you change your password, it must be used for 2 day(s) before it can be changed. Please try ' +
        'again in 1 day(s) or contact your administrator to reset your password.')
      // An administrator's reset lifts it.
      assert.equal((await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { password: 'c' } } })).statusCode, 200)
      assert.equal((await k.changePw(u.id, 'c', 'd')).statusCode, 204)
      // Once the age has passed, the user may change it again.
      await k.db.updateTable('users').set({ password_created_at: new Date(Date.now() - 3 * 86_400_000).toISOString() })
        .where('id', '=', u.id).execute()
      assert.equal((await k.changePw(u.id, 'd', 'e')).statusCode, 204)
    } finally { await h.close() }
  })

  it('sets password_expires_at, honours ignore_password_expiry, and filters on it', async () => {
    const h = await identityHarness({ passwordExpiresDays: 10 })
    const k = kit(h)
    try {
      const t0 = Date.now()
      const tag = uniq('exp')
      const a = await k.user({ name: `${tag}-a` })
      assert.match(a.password_expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000$/)
      const exp = Date.parse(a.password_expires_at + 'Z')
      assert.ok(Math.abs(exp - (t0 + 10 * 86_400_000)) < 60_000)
      const b = await k.user({ name: `${tag}-b`, options: { ignore_password_expiry: true } })
      assert.equal(b.password_expires_at, null)
      const c = await k.user({ name: `${tag}-c` })
      await k.db.updateTable('users').set({ password_expires_at: '2020-01-01T00:00:00.000Z' }).where('id', '=', c.id).execute()
      const ids = async (q: string) => {
        const r = await h.call('GET', `/v3/users?name__startswith=${tag}&${q}`)
        assert.equal(r.statusCode, 200, r.body)
        return json(r).users.map((u: any) => u.id).sort()
      }
      const now = new Date().toISOString().slice(0, 19) + 'Z'
      assert.deepEqual(await ids(`password_expires_at=lt:${now}`), [c.id])
      assert.deepEqual(await ids(`password_expires_at=gt:${now}`), [a.id])
      assert.deepEqual(await ids('password_expires_at=eq:2020-01-01T00:00:00Z'), [c.id])
      assert.deepEqual(await ids('password_expires_at=2020-01-01T00:00:00Z'), [c.id])
      assert.deepEqual(await ids('password_expires_at=lte:2020-01-01T00:00:00Z'), [c.id])
      assert.deepEqual(await ids('password_expires_at=gte:2020-01-01T00:00:00Z'), [a.id, c.id].sort())
      assert.deepEqual(await ids('password_expires_at=neq:2020-01-01T00:00:00Z'), [a.id])
      // The expired password fails at login but can still be changed; the new one expires later.
      assertError(await k.auth(c.id, 'secret-1'), 401, /expired/)
      assert.equal((await k.changePw(c.id, 'secret-1', 'renewed')).statusCode, 204)
      await tick()
      assert.equal((await k.auth(c.id, 'renewed')).statusCode, 201)
      const shown = json(await h.call('GET', `/v3/users/${c.id}`)).user
      assert.ok(Date.parse(shown.password_expires_at + 'Z') > Date.now())
    } finally { await h.close() }
  })

  it('locks out after failed attempts; enabling the user or waiting unlocks (Tempest test_user_account_lockout)', async () => {
    const h = await identityHarness({ lockoutFailureAttempts: 2, lockoutDuration: 1 })
    const k = kit(h)
    try {
      const u = await k.user({}, 'good')
      assert.equal((await k.auth(u.id, 'good')).statusCode, 201)
      assertError(await k.auth(u.id, 'bad'), 401)
      // A wrong original password in a change counts as a failed attempt too.
      assertError(await k.changePw(u.id, 'bad', 'whatever'), 401)
      assertError(await k.auth(u.id, 'good'), 401, `The account is locked for user: ${u.id}.`)
      assertError(await k.changePw(u.id, 'good', 'other'), 401, `The account is locked for user: ${u.id}.`)
      // An administrator unlocks by enabling the user.
      assert.equal((await h.call('PATCH', `/v3/users/${u.id}`, { body: { user: { enabled: true } } })).statusCode, 200)
      const row = await k.db.selectFrom('users').select(['failed_auth_count', 'failed_auth_at']).where('id', '=', u.id).executeTakeFirstOrThrow()
      assert.equal(row.failed_auth_count, 0)
      assert.equal(row.failed_auth_at, null)
      assert.equal((await k.auth(u.id, 'good')).statusCode, 201)
      // Locked again, then the lockout runs out.
      assertError(await k.auth(u.id, 'bad'), 401)
      assertError(await k.auth(u.id, 'bad'), 401)
      assertError(await k.auth(u.id, 'good'), 401, /locked/)
      await sleep(1100)
      assert.equal((await k.auth(u.id, 'good')).statusCode, 201)
      // ignore_lockout_failure_attempts lets a password change through a lock.
      const v = await k.user({ options: { ignore_lockout_failure_attempts: true } }, 'v-good')
      assertError(await k.changePw(v.id, 'bad', 'x'), 401)
      assertError(await k.changePw(v.id, 'bad', 'x'), 401)
      assert.equal((await k.changePw(v.id, 'v-good', 'v-new')).statusCode, 204)
    } finally { await h.close() }
  })
})

describe('users: groups of a user', () => {
  it('lists the groups a user belongs to with membership_expires_at null (Tempest test_list_user_groups)', async () => {
    const h = await identityHarness()
    const k = kit(h)
    try {
      const u = await k.user()
      const d = await k.domain()
      const groups = []
      for (let i = 0; i < 2; i++) {
        const g = json(await h.call('POST', '/v3/groups', { body: { group: { name: uniq('grp'), domain_id: d, description: 'x' } } })).group
        groups.push(g)
        assert.equal((await h.call('PUT', `/v3/groups/${g.id}/users/${u.id}`)).statusCode, 204)
      }
      await h.call('POST', '/v3/groups', { body: { group: { name: uniq('not-mine') } } })
      const r = await h.call('GET', `/v3/users/${u.id}/groups`)
      assert.equal(r.statusCode, 200)
      const got = json(r).groups
      for (const g of got) { assert.equal(g.membership_expires_at, null); delete g.membership_expires_at }
      const byName = (a: any, b: any) => a.name.localeCompare(b.name)
      assert.deepEqual(got.sort(byName), groups.sort(byName))
      assert.deepEqual(json(await h.call('GET', `/v3/users/${u.id}/groups?name=${groups[0].name}`)).groups.map((g: any) => g.id),
        [groups[0].id])
    } finally { await h.close() }
  })
})
