import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { type IdentityHarness, identityHarness } from '../testing.ts'

// Groups and memberships through the API. Projects, domains and role assignments are
// written straight to the database so these tests depend only on users and groups.
// Names are unique per run (a PostgreSQL test database may be shared between runs).

const uniq = (p: string) => `${p}-${randomUUID().slice(0, 8)}`
const json = (r: { body: string }) => JSON.parse(r.body)

function assertError(r: { statusCode: number; body: string }, status: number, message?: string | RegExp) {
  assert.equal(r.statusCode, status, r.body)
  const e = json(r).error
  assert.equal(e.code, status)
  if (typeof message === 'string') assert.equal(e.message, message)
  else if (message) assert.match(e.message, message)
}

function kit(h: IdentityHarness) {
  const db = h.identity.ctx.db
  const now = () => new Date().toISOString()
  const newId = () => randomUUID().replace(/-/g, '')
  return {
    db,
    async group(body: Record<string, unknown> = {}, token?: string) {
      const r = await h.call('POST', '/v3/groups', { token, body: { group: { name: uniq('g'), ...body } } })
      assert.equal(r.statusCode, 201, r.body)
      return json(r).group as Record<string, any>
    },
    async user(body: Record<string, unknown> = {}, password = 'pw') {
      const r = await h.call('POST', '/v3/users', { body: { user: { name: uniq('u'), password, email: 'x@y.z', ...body } } })
      assert.equal(r.statusCode, 201, r.body)
      return json(r).user as Record<string, any>
    },
    async project(domainId = 'default') {
      const id = newId()
      await db.insertInto('projects').values({ id, name: uniq('p'), domain_id: domainId, parent_id: null, description: '',
        enabled: 1, is_domain: 0, extra: '{}', created_at: now() }).execute()
      return id
    },
    async domain() {
      const id = newId()
      await db.insertInto('domains').values({ id, name: uniq('d'), description: '', enabled: 1, extra: '{}', created_at: now() }).execute()
      return id
    },
    async grant(actorId: string, roleName: string, projectId: string, group: boolean) {
      const role = await db.selectFrom('roles').select('id').where('name', '=', roleName).where('domain_id', '=', '').executeTakeFirstOrThrow()
      await db.insertInto('assignments').values({ type: group ? 'GroupProject' : 'UserProject', actor_id: actorId,
        target_id: projectId, role_id: role.id, inherited: 0 }).execute()
      h.identity.ctx.changed()
    },
    async valid(token: string) {
      const r = await h.call('GET', '/v3/auth/tokens', { headers: { 'x-subject-token': token } })
      return r.statusCode === 200
    },
    auth(userId: string, password: string, scope?: unknown) {
      return h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
        identity: { methods: ['password'], password: { user: { id: userId, password } } }, ...(scope ? { scope } : {}) } } })
    },
  }
}

describe('groups: CRUD', () => {
  let h: IdentityHarness
  let k: ReturnType<typeof kit>
  before(async () => { h = await identityHarness(); k = kit(h) })
  after(async () => { await h.close() })

  it('creates, updates and shows a group (Tempest test_group_create_update_get)', async () => {
    const d = await k.domain()
    const name = uniq('Group')
    const g = await k.group({ name: ` ${name} `, domain_id: d, description: 'Description' })
    assert.match(g.id, /^[0-9a-f]{32}$/)
    assert.equal(g.name, name)
    assert.equal(g.description, 'Description')
    assert.equal(g.domain_id, d)
    assert.match(g.links.self, new RegExp(`/v3/groups/${g.id}$`))
    const r = await h.call('PATCH', `/v3/groups/${g.id}`, { body: { group: { name: 'UpdateGroup-' + name, description: 'UpdateDescription' } } })
    assert.equal(r.statusCode, 200, r.body)
    assert.equal(json(r).group.name, 'UpdateGroup-' + name)
    assert.equal(json(r).group.description, 'UpdateDescription')
    const shown = json(await h.call('GET', `/v3/groups/${g.id}`)).group
    assert.deepEqual(shown, json(r).group)
    const r2 = json(await h.call('PATCH', `/v3/groups/${g.id}`, { body: { group: { name: 'Second-' + name } } })).group
    assert.equal(r2.name, 'Second-' + name)
    assert.equal(r2.description, 'UpdateDescription')
    assert.equal(r2.domain_id, d)
    assert.equal((await h.call('HEAD', `/v3/groups/${g.id}`)).statusCode, 200)
  })

  it('defaults to the default domain and an empty description; keeps extra attributes and a null description', async () => {
    const g = await k.group({ team: 'ops' })
    assert.equal(g.domain_id, 'default')
    assert.equal(g.description, '')
    assert.equal(g.team, 'ops')
    const n = await k.group({ description: null })
    assert.equal(n.description, null)
    assert.equal(json(await h.call('GET', `/v3/groups/${n.id}`)).group.description, null)
    const set = json(await h.call('PATCH', `/v3/groups/${n.id}`, { body: { group: { description: 'now', team: 'dev' } } })).group
    assert.equal(set.description, 'now')
    assert.equal(set.team, 'dev')
    const unset = json(await h.call('PATCH', `/v3/groups/${g.id}`, { body: { group: { description: null } } })).group
    assert.equal(unset.description, null)
    assert.equal(unset.team, 'ops')
  })

  it('names are unique per domain', async () => {
    const d = await k.domain()
    const name = uniq('dup')
    const a = await k.group({ name })
    await k.group({ name, domain_id: d })
    assertError(await h.call('POST', '/v3/groups', { body: { group: { name } } }), 409,
      `Conflict occurred attempting to store group - Duplicate entry found with name ${name} at domain ID default.`)
    const b = await k.group()
    assertError(await h.call('PATCH', `/v3/groups/${b.id}`, { body: { group: { name } } }), 409,
      `Conflict occurred attempting to store group - Duplicate entry found with name ${name}.`)
    assert.equal(json(await h.call('GET', `/v3/groups/${a.id}`)).group.name, name)
  })

  it('rejects bad input and changes nothing', async () => {
    const before = (await k.db.selectFrom('groups').select('id').execute()).length
    for (const body of ['{"group":', {}, { group: {} }, { group: { name: '' } }, { group: { name: ' ' } }, { group: { name: 1 } },
      { group: { name: uniq('x'), description: 3 } }, { group: { name: uniq('x'), domain_id: 'a b' } },
      { group: { name: uniq('x') }, other: 1 }]) {
      const r = await h.call('POST', '/v3/groups', { body })
      assert.equal(r.statusCode, 400, `${JSON.stringify(body)} → ${r.body}`)
    }
    assertError(await h.call('POST', '/v3/groups', { body: { group: { name: uniq('x'), domain_id: 'nodomain' } } }), 404,
      'Could not find domain: nodomain.')
    assert.equal((await k.db.selectFrom('groups').select('id').execute()).length, before)
    const g = await k.group()
    const d = await k.domain()
    for (const [body, status, msg] of [
      [{ group: {} }, 400, undefined], [{}, 400, undefined], [{ group: { name: '' } }, 400, undefined],
      [{ group: { id: 'other' } }, 400, 'Cannot change ID'], [{ group: { domain_id: d } }, 400, 'Cannot change Domain ID'],
    ] as [unknown, number, string | undefined][]) {
      assertError(await h.call('PATCH', `/v3/groups/${g.id}`, { body }), status, msg)
    }
    assert.deepEqual(json(await h.call('GET', `/v3/groups/${g.id}`)).group, g)
  })

  it('404s for unknown groups', async () => {
    assertError(await h.call('GET', '/v3/groups/nope'), 404, 'Could not find group: nope.')
    assertError(await h.call('PATCH', '/v3/groups/nope', { body: { group: { name: 'x' } } }), 404, 'Could not find group: nope.')
    assertError(await h.call('DELETE', '/v3/groups/nope'), 404, 'Could not find group: nope.')
    assertError(await h.call('GET', '/v3/groups/nope/users'), 404, 'Could not find group: nope.')
  })

  it('lists groups with name and domain_id filters (Tempest test_list_groups)', async () => {
    const d = await k.domain()
    const tag = uniq('lg')
    const gs = [await k.group({ name: `${tag}-1`, domain_id: d }), await k.group({ name: `${tag}-2`, domain_id: d }),
      await k.group({ name: `${tag}-3` })]
    const all = json(await h.call('GET', '/v3/groups'))
    assert.ok(all.links.self.endsWith('/v3/groups'))
    for (const g of gs) assert.ok(all.groups.some((x: any) => x.id === g.id))
    const ids = async (q: string) => json(await h.call('GET', `/v3/groups?${q}`)).groups.map((g: any) => g.id).sort()
    assert.deepEqual(await ids(`domain_id=${d}`), [gs[0]!.id, gs[1]!.id].sort())
    assert.deepEqual(await ids(`name=${tag}-3`), [gs[2]!.id])
    assert.deepEqual(await ids(`name__startswith=${tag}&domain_id=default`), [gs[2]!.id])
    assert.deepEqual(json(await h.call('GET', `/v3/groups?name=${tag}-1`)).groups, [gs[0]])
    assertError(await h.call('GET', '/v3/groups?name='), 400)
  })
})

describe('groups: membership', () => {
  let h: IdentityHarness
  let k: ReturnType<typeof kit>
  before(async () => { h = await identityHarness(); k = kit(h) })
  after(async () => { await h.close() })

  it('adds, lists, checks and removes users (Tempest test_group_users_add_list_delete)', async () => {
    const g = await k.group({ domain_id: await k.domain() })
    const users = [await k.user(), await k.user(), await k.user()]
    for (const u of users) {
      const r = await h.call('PUT', `/v3/groups/${g.id}/users/${u.id}`)
      assert.equal(r.statusCode, 204, r.body)
      assert.equal(r.body, '')
    }
    // Adding twice is fine.
    assert.equal((await h.call('PUT', `/v3/groups/${g.id}/users/${users[0]!.id}`)).statusCode, 204)
    const listed = json(await h.call('GET', `/v3/groups/${g.id}/users`)).users
    const byName = (a: any, b: any) => a.name.localeCompare(b.name)
    assert.deepEqual([...listed].sort(byName), [...users].sort(byName))
    for (const u of users) {
      assert.equal((await h.call('HEAD', `/v3/groups/${g.id}/users/${u.id}`)).statusCode, 204)
      assert.equal((await h.call('GET', `/v3/groups/${g.id}/users/${u.id}`)).statusCode, 204)
      assert.equal((await h.call('DELETE', `/v3/groups/${g.id}/users/${u.id}`)).statusCode, 204)
    }
    assert.deepEqual(json(await h.call('GET', `/v3/groups/${g.id}/users`)).users, [])
    const u = users[0]!
    assertError(await h.call('GET', `/v3/groups/${g.id}/users/${u.id}`), 404, `User '${u.id}' not found in group '${g.id}'`)
    assert.equal((await h.call('HEAD', `/v3/groups/${g.id}/users/${u.id}`)).statusCode, 404)
    assertError(await h.call('DELETE', `/v3/groups/${g.id}/users/${u.id}`), 404, `User '${u.id}' not found in group '${g.id}'`)
  })

  it('404s for unknown groups or users', async () => {
    const g = await k.group()
    const u = await k.user()
    for (const m of ['PUT', 'GET', 'DELETE']) {
      assertError(await h.call(m, `/v3/groups/nog/users/${u.id}`), 404, 'Could not find group: nog.')
      assertError(await h.call(m, `/v3/groups/${g.id}/users/nou`), 404, 'Could not find user: nou.')
    }
    assert.equal((await k.db.selectFrom('user_groups').select('user_id').where('group_id', '=', g.id).execute()).length, 0)
  })

  it('filters the users of a group', async () => {
    const g = await k.group()
    const a = await k.user()
    const b = await k.user({ enabled: false })
    for (const u of [a, b]) await h.call('PUT', `/v3/groups/${g.id}/users/${u.id}`)
    const ids = async (q: string) => {
      const r = await h.call('GET', `/v3/groups/${g.id}/users?${q}`)
      assert.equal(r.statusCode, 200, r.body)
      return json(r).users.map((u: any) => u.id).sort()
    }
    assert.deepEqual(await ids('enabled=false'), [b.id])
    assert.deepEqual(await ids(`name=${a.name}`), [a.id])
    assert.deepEqual(await ids('domain_id=default'), [a.id, b.id].sort())
    assert.deepEqual(await ids('password_expires_at=lt:2000-01-01T00:00:00Z'), [])
    assertError(await h.call('GET', `/v3/groups/${g.id}/users?password_expires_at=zz:2000-01-01T00:00:00Z`), 400)
  })

  it('group roles reach members at once; removal from the group revokes the member\'s tokens', async () => {
    const p = await k.project()
    const g = await k.group()
    await k.grant(g.id, 'member', p, true)
    const u = await k.user({}, 'pw-gm')
    assertError(await k.auth(u.id, 'pw-gm', { project: { id: p } }), 401)
    assert.equal((await h.call('PUT', `/v3/groups/${g.id}/users/${u.id}`)).statusCode, 204)
    const r = await k.auth(u.id, 'pw-gm', { project: { id: p } })
    assert.equal(r.statusCode, 201, r.body)
    assert.deepEqual(json(r).token.roles.map((x: any) => x.name).sort(), ['member', 'reader'])
    const token = r.headers['x-subject-token'] as string
    assert.equal(await k.valid(token), true)
    assert.equal((await h.call('DELETE', `/v3/groups/${g.id}/users/${u.id}`)).statusCode, 204)
    assert.equal(await k.valid(token), false)
    await sleep(5)
    assertError(await k.auth(u.id, 'pw-gm', { project: { id: p } }), 401)
    assert.equal((await k.auth(u.id, 'pw-gm')).statusCode, 201)
  })

  it('deleting a group removes memberships and assignments and revokes members\' tokens', async () => {
    const p = await k.project()
    const g = await k.group()
    await k.grant(g.id, 'member', p, true)
    const u = await k.user({}, 'pw-gd')
    await h.call('PUT', `/v3/groups/${g.id}/users/${u.id}`)
    const token = await h.login(u.id, 'pw-gd', { project: { id: p } })
    const r = await h.call('DELETE', `/v3/groups/${g.id}`)
    assert.equal(r.statusCode, 204)
    assert.equal(r.body, '')
    assert.equal(await k.valid(token), false)
    assertError(await h.call('GET', `/v3/groups/${g.id}`), 404)
    assert.equal((await k.db.selectFrom('user_groups').select('user_id').where('group_id', '=', g.id).execute()).length, 0)
    assert.equal((await k.db.selectFrom('assignments').select('role_id').where('actor_id', '=', g.id).execute()).length, 0)
    assert.deepEqual(json(await h.call('GET', `/v3/users/${u.id}/groups`)).groups, [])
    // A group that granted nothing leaves its members' tokens alone.
    const g2 = await k.group()
    await h.call('PUT', `/v3/groups/${g2.id}/users/${u.id}`)
    await sleep(5)
    const t2 = await h.login(u.id, 'pw-gd')
    assert.equal((await h.call('DELETE', `/v3/groups/${g2.id}`)).statusCode, 204)
    assert.equal(await k.valid(t2), true)
  })
})

describe('groups: RBAC', () => {
  let h: IdentityHarness
  let k: ReturnType<typeof kit>
  let memberTok: string, readerTok: string, g: Record<string, any>, member: Record<string, any>
  before(async () => {
    h = await identityHarness(); k = kit(h)
    const p = await k.project()
    member = await k.user({}, 'pw-m')
    const reader = await k.user({}, 'pw-r')
    await k.grant(member.id, 'member', p, false)
    await k.grant(reader.id, 'reader', p, false)
    memberTok = await h.login(member.id, 'pw-m', { project: { id: p } })
    readerTok = await h.login(reader.id, 'pw-r', { project: { id: p } })
    g = await k.group()
    await h.call('PUT', `/v3/groups/${g.id}/users/${member.id}`)
  })
  after(async () => { await h.close() })

  it('members and readers cannot write groups or memberships, nor read them', async () => {
    for (const token of [memberTok, readerTok]) {
      assertError(await h.call('POST', '/v3/groups', { token, body: { group: { name: uniq('x') } } }), 403,
        'You are not authorized to perform the requested action: identity:create_group.')
      assertError(await h.call('PATCH', `/v3/groups/${g.id}`, { token, body: { group: { name: uniq('x') } } }), 403)
      assertError(await h.call('DELETE', `/v3/groups/${g.id}`, { token }), 403)
      assertError(await h.call('PUT', `/v3/groups/${g.id}/users/${member.id}`, { token }), 403)
      assertError(await h.call('DELETE', `/v3/groups/${g.id}/users/${member.id}`, { token }), 403)
      assertError(await h.call('GET', '/v3/groups', { token }), 403)
      assertError(await h.call('GET', `/v3/groups/${g.id}`, { token }), 403)
      assertError(await h.call('GET', `/v3/groups/${g.id}/users`, { token }), 403)
      assertError(await h.call('GET', `/v3/groups/${g.id}/users/${member.id}`, { token }), 403)
    }
    assert.equal((await h.call('GET', `/v3/groups/${g.id}/users/${member.id}`)).statusCode, 204)
    assertError(await h.call('GET', '/v3/groups', { token: null }), 401)
  })

  it('a user lists their own groups', async () => {
    const r = await h.call('GET', `/v3/users/${member.id}/groups`, { token: memberTok })
    assert.equal(r.statusCode, 200, r.body)
    assert.deepEqual(json(r).groups.map((x: any) => x.id), [g.id])
  })

  it('a domain-scoped reader sees only its domain\'s groups', async () => {
    const d = await k.domain()
    const u = await k.user({ domain_id: d }, 'pw-d')
    const role = await k.db.selectFrom('roles').select('id').where('name', '=', 'reader').executeTakeFirstOrThrow()
    await k.db.insertInto('assignments').values({ type: 'UserDomain', actor_id: u.id, target_id: d, role_id: role.id, inherited: 0 }).execute()
    h.identity.ctx.changed()
    const mine = await k.group({ domain_id: d })
    const tok = await h.login(u.id, 'pw-d', { domain: { id: d } })
    const r = await h.call('GET', '/v3/groups', { token: tok })
    assert.equal(r.statusCode, 200, r.body)
    assert.deepEqual(json(r).groups.map((x: any) => x.id), [mine.id])
    assert.equal((await h.call('GET', `/v3/groups/${mine.id}`, { token: tok })).statusCode, 200)
    assertError(await h.call('GET', `/v3/groups/${g.id}`, { token: tok }), 403)
    assertError(await h.call('POST', '/v3/groups', { token: tok, body: { group: { name: uniq('x') } } }), 403)
  })
})
