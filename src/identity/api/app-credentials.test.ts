import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type IdentityHarness, identityHarness } from '../testing.ts'
import { verifyPassword } from '../passwords.ts'
import { type Fixture, PASSWORD, assertError, grant, json, makeUser, roleId } from './cred-test-helpers.ts'
import { newId } from './common.ts'

let h: IdentityHarness
let alice: Fixture   // member (hence reader) on her project
let bob: Fixture     // member on another project

before(async () => {
  h = await identityHarness()
  alice = await makeUser(h, 'member')
  bob = await makeUser(h, 'member')
})
after(async () => { await h.close() })

const uniq = (p: string) => `${p}-${newId().slice(0, 12)}`
const path = (u: Fixture) => `/v3/users/${u.userId}/application_credentials`

async function create(u: Fixture, body: Record<string, unknown> = {}, token = u.token) {
  return json(await h.call('POST', path(u), { token, body: { application_credential: { name: uniq('ac'), ...body } } }), 201).application_credential
}

/** Authenticates with an application credential; returns the response. */
function authWith(ac: Record<string, unknown>, scope?: unknown) {
  return h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
    identity: { methods: ['application_credential'], application_credential: ac }, ...(scope ? { scope } : {}) } } })
}
async function tokenFrom(ac: Record<string, unknown>): Promise<{ id: string; body: any }> {
  const r = await authWith(ac)
  return { id: r.headers['x-subject-token'] as string, body: json(r, 201).token }
}
const validate = (subject: string) => h.call('GET', '/v3/auth/tokens', { headers: { 'x-subject-token': subject } })

describe('application credentials', () => {
  test('create returns the secret once; show and list never do', async () => {
    const ac = await create(alice, { description: 'for CI' })
    assert.match(ac.id, /^[0-9a-f]{32}$/)
    assert.match(ac.secret, /^[A-Za-z0-9_-]{64,}$/)
    assert.equal(ac.user_id, alice.userId)
    assert.equal(ac.project_id, alice.projectId)
    assert.equal(ac.description, 'for CI')
    assert.equal(ac.expires_at, null)
    assert.equal(ac.unrestricted, false)
    assert.deepEqual(ac.access_rules, [])
    assert.deepEqual(ac.roles.map((r: any) => r.name), ['member', 'reader'], 'defaults to the token\'s roles')
    assert.deepEqual(ac.roles[0], { id: await roleId(h, 'member'), name: 'member', domain_id: null })
    assert.equal(ac.links.self, `http://localhost:80/v3/users/${alice.userId}/application_credentials/${ac.id}`)
    const shown = json(await h.call('GET', `${path(alice)}/${ac.id}`, { token: alice.token }), 200).application_credential
    assert.equal(shown.secret, undefined)
    const { secret, ...rest } = ac
    assert.deepEqual(shown, rest)
    // Only a hash is stored.
    const row = await h.identity.ctx.db.selectFrom('application_credentials').selectAll().where('id', '=', ac.id).executeTakeFirstOrThrow()
    assert.ok(!row.secret_hash.includes(secret))
    assert.ok(await verifyPassword(secret, row.secret_hash))

    const listed = json(await h.call('GET', path(alice), { token: alice.token }), 200)
    assert.ok(listed.application_credentials.some((x: any) => x.id === ac.id))
    assert.ok(listed.application_credentials.every((x: any) => x.secret === undefined))
    assert.equal(listed.links.self, `http://localhost:80${path(alice)}`)
  })

  test('a given secret is used; name is unique per user; list filters by name', async () => {
    const name = uniq('named')
    const ac = await create(alice, { name, secret: 'my-own-secret' })
    assert.equal(ac.secret, 'my-own-secret')
    assertError(await h.call('POST', path(alice), { token: alice.token, body: { application_credential: { name } } }), 409,
      `Conflict occurred attempting to store application_credential - Duplicate entry found with name ${name}.`)
    // Another user may use the same name.
    assert.equal((await create(bob, { name })).name, name)
    const other = await create(alice)
    const filtered = json(await h.call('GET', `${path(alice)}?name=${name}`, { token: alice.token }), 200).application_credentials
    assert.deepEqual(filtered.map((x: any) => x.id), [ac.id])
    assert.ok(other.id)
    await tokenFrom({ id: ac.id, secret: 'my-own-secret' })
  })

  test('validation: body schema, expiry, roles', async () => {
    const bad = async (b: unknown, status = 400, msg?: string | RegExp) =>
      assertError(await h.call('POST', path(alice), { token: alice.token, body: b }), status, msg)
    await bad({ application_credential: {} })
    await bad({ application_credential: { name: '' } })
    await bad({ application_credential: { name: '   ' } })
    await bad({ application_credential: { name: 5 } })
    await bad({ application_credential: { name: 'x', bogus: 1 } }, 400, /bogus/)
    await bad({ application_credential: { name: 'x' }, other: 1 }, 400, /other/)
    await bad({ application_credential: { name: 'x', unrestricted: 'yes' } })
    await bad({ application_credential: { name: 'x', roles: [{ id: 'a', name: 'b' }] } })
    await bad({ application_credential: { name: 'x', roles: [{}] } })
    await bad({ application_credential: { name: 'x', roles: 'member' } })
    await bad({ application_credential: { name: 'x', access_rules: [{ service: 'compute', path: 'no-slash', method: 'GET' }] } })
    await bad({ application_credential: { name: 'x', access_rules: [{ service: 'compute', path: '/x', method: 'FETCH' }] } })
    await bad({ application_credential: { name: 'x', access_rules: [{ service: 'compute' }] } }, 400, /access rule needs/)
    await bad('{"application_credential":')
    await bad({ application_credential: { name: 'x', expires_at: '2000-01-01T00:00:00' } }, 400, /^The 'expires_at' must not be before now/)
    await bad({ application_credential: { name: 'x', expires_at: 'tomorrow' } }, 400, /^Timestamp not in expected format/)
    await bad({ application_credential: { name: 'x', roles: [{ name: 'admin' }] } }, 400,
      'Invalid application credential: Cannot create an application credential with unassigned role')
    await bad({ application_credential: { name: 'x', roles: [{ id: 'no-such-role' }] } }, 400, /unassigned role/)
    await bad({ application_credential: { name: 'x', roles: [{ name: 'no-such-role' }] } }, 404, 'Could not find role: no-such-role.')
    // Nothing was created by the refused requests.
    assert.deepEqual(json(await h.call('GET', `${path(alice)}?name=x`, { token: alice.token }), 200).application_credentials, [])
  })

  test('expires_at is kept to the microsecond and shown as Keystone does', async () => {
    const ac = await create(alice, { expires_at: '2099-01-02T03:04:05.123456' })
    assert.equal(ac.expires_at, '2099-01-02T03:04:05.123456')
    const zoned = await create(alice, { expires_at: '2099-01-02T05:04:05+02:00' })
    assert.equal(zoned.expires_at, '2099-01-02T03:04:05.000000')
    const t = await tokenFrom({ id: ac.id, secret: ac.secret })
    assert.ok(Date.parse(t.body.expires_at) <= Date.parse('2099-01-02T03:04:05.123Z'))
  })

  test('only for oneself, with a project-scoped token', async () => {
    assertError(await h.call('POST', path(bob), { token: alice.token, body: { application_credential: { name: 'x' } } }), 403,
      'You are not authorized to perform the requested action: identity:create_application_credential.')
    // Not even the admin creates one for someone else.
    assertError(await h.call('POST', path(bob), { body: { application_credential: { name: 'x' } } }), 403)
    const unscoped = await h.login(alice.userId, PASSWORD)
    assertError(await h.call('POST', path(alice), { token: unscoped, body: { application_credential: { name: 'x' } } }), 400,
      /project-scoped token is required/)
  })

  test('RBAC: owners and admins read and delete; others may not', async () => {
    const ac = await create(alice)
    assertError(await h.call('GET', path(alice), { token: bob.token }), 403)
    assertError(await h.call('GET', `${path(alice)}/${ac.id}`, { token: bob.token }), 403)
    // Putting one's own id in the path does not help: ownership is the credential's.
    assertError(await h.call('GET', `${path(bob)}/${ac.id}`, { token: bob.token }), 403)
    assertError(await h.call('DELETE', `${path(bob)}/${ac.id}`, { token: bob.token }), 403)
    assertError(await h.call('DELETE', `${path(alice)}/${ac.id}`, { token: bob.token }), 403)
    assertError(await h.call('GET', `${path(alice)}/nope`, { token: alice.token }), 404, 'Could not find Application Credential: nope.')
    assertError(await h.call('DELETE', `${path(alice)}/nope`, { token: alice.token }), 404)
    json(await h.call('GET', `${path(alice)}/${ac.id}`), 200)
    assert.ok(json(await h.call('GET', path(alice)), 200).application_credentials.some((x: any) => x.id === ac.id))
    assert.equal((await h.call('DELETE', `${path(alice)}/${ac.id}`)).statusCode, 204)
    assertError(await h.call('GET', `${path(alice)}/${ac.id}`, { token: alice.token }), 404)
  })
})

describe('authenticating with an application credential', () => {
  test('by id and secret, and by name, secret and user; roles are limited to the credential\'s', async () => {
    const ac = await create(alice, { roles: [{ name: 'reader' }] })
    assert.deepEqual(ac.roles.map((r: any) => r.name), ['reader'])
    const t = await tokenFrom({ id: ac.id, secret: ac.secret })
    assert.deepEqual(t.body.methods, ['application_credential'])
    assert.equal(t.body.user.id, alice.userId)
    assert.equal(t.body.project.id, alice.projectId)
    assert.deepEqual(t.body.roles.map((r: any) => r.name), ['reader'], 'not member, though alice has it')
    assert.deepEqual(t.body.application_credential, { id: ac.id, name: ac.name, restricted: true })
    assert.ok(Array.isArray(t.body.catalog))

    const byName = await tokenFrom({ name: ac.name, secret: ac.secret, user: { id: alice.userId } })
    assert.equal(byName.body.application_credential.id, ac.id)
    const byUserName = await tokenFrom({ name: ac.name, secret: ac.secret, user: { name: alice.userName, domain: { id: 'default' } } })
    assert.deepEqual(byUserName.body.roles.map((r: any) => r.name), ['reader'])
    // The token works against the API with the credential's roles only.
    const v = json(await validate(t.id), 200).token
    assert.deepEqual(v.roles.map((r: any) => r.name), ['reader'])

    assertError(await authWith({ id: ac.id, secret: 'wrong' }), 401)
    assertError(await authWith({ name: ac.name, secret: ac.secret, user: { id: bob.userId } }), 401)
    assertError(await authWith({ id: 'nope', secret: ac.secret }), 401)
    assertError(await authWith({ id: ac.id }), 400)
    assertError(await authWith({ secret: ac.secret }), 400)
    // It cannot ask for another scope.
    assertError(await authWith({ id: ac.id, secret: ac.secret }, { project: { id: bob.projectId } }), 401)
  })

  test('an expired credential fails with 401', async () => {
    const ac = await create(alice, { expires_at: new Date(Date.now() + 3600_000).toISOString() })
    await tokenFrom({ id: ac.id, secret: ac.secret })
    await h.identity.ctx.db.updateTable('application_credentials').set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', ac.id).execute()
    assertError(await authWith({ id: ac.id, secret: ac.secret }), 401)
  })

  test('deleting it invalidates the tokens issued from it', async () => {
    const ac = await create(alice)
    const t = await tokenFrom({ id: ac.id, secret: ac.secret })
    json(await validate(t.id), 200)
    json(await h.call('GET', `${path(alice)}/${ac.id}`, { token: alice.token }), 200)
    assert.equal((await h.call('DELETE', `${path(alice)}/${ac.id}`, { token: alice.token })).statusCode, 204)
    assertError(await validate(t.id), 404, 'Could not find token.')
    assertError(await h.call('GET', `${path(alice)}`, { token: t.id }), 401)
    assertError(await authWith({ id: ac.id, secret: ac.secret }), 401)
    // The user's own password token is untouched.
    json(await h.call('GET', path(alice), { token: alice.token }), 200)
  })

  test('a restricted credential cannot manage credentials; an unrestricted one can', async () => {
    const restricted = await create(alice)
    const rt = (await tokenFrom({ id: restricted.id, secret: restricted.secret })).id
    const msg = "You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing additional application credentials.."
    assertError(await h.call('POST', path(alice), { token: rt, body: { application_credential: { name: uniq('x') } } }), 403, msg)
    assertError(await h.call('DELETE', `${path(alice)}/${restricted.id}`, { token: rt }), 403, msg)
    assertError(await h.call('POST', `/v3/users/${alice.userId}/credentials/OS-EC2`, { token: rt, body: { tenant_id: alice.projectId } }), 403, msg)
    assertError(await h.call('POST', '/v3/credentials', { token: rt, body: { credential: {
      user_id: alice.userId, project_id: alice.projectId, type: 'ec2', blob: JSON.stringify({ access: uniq('a'), secret: 's' }) } } }), 403,
    "You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing additional credentials..")
    // Reading is fine.
    json(await h.call('GET', path(alice), { token: rt }), 200)

    const free = await create(alice, { unrestricted: true })
    assert.equal(free.unrestricted, true)
    const ut = (await tokenFrom({ id: free.id, secret: free.secret })).id
    const child = await create(alice, {}, ut)
    assert.deepEqual(child.roles.map((r: any) => r.name), ['member', 'reader'])
    // An EC2 credential made with it is bound to the credential (and to its project).
    const ec2 = json(await h.call('POST', '/v3/credentials', { token: ut, body: { credential: {
      user_id: alice.userId, project_id: alice.projectId, type: 'ec2', blob: JSON.stringify({ access: uniq('a'), secret: 's' }) } } }), 201).credential
    assert.equal(JSON.parse(ec2.blob).app_cred_id, free.id)
    const other = await makeUser(h, null, bob.projectId)
    assert.ok(other)
    assertError(await h.call('POST', '/v3/credentials', { token: ut, body: { credential: {
      user_id: alice.userId, project_id: bob.projectId, type: 'cert', blob: 'x' } } }), 403, /project does not match/)
    assert.equal((await h.call('DELETE', `${path(alice)}/${child.id}`, { token: ut })).statusCode, 204)
  })

  test('a credential cannot grant more than its creator\'s token holds', async () => {
    const u = await makeUser(h, 'reader')
    assertError(await h.call('POST', path(u), { token: u.token, body: { application_credential: { name: 'x', roles: [{ name: 'member' }] } } }), 400,
      'Invalid application credential: Cannot create an application credential with unassigned role')
    // Roles are computed when a token is validated (as Keystone's Fernet tokens): once granted,
    // the same token carries the role and may delegate it, with what it implies.
    await grant(h, u.userId, u.projectId, 'member')
    const ac = await create(u, { roles: [{ name: 'member' }] })
    assert.deepEqual(ac.roles.map((r: any) => r.name), ['member', 'reader'], 'implied roles are included')
  })
})

describe('access rules', () => {
  const rulesPath = (u: Fixture) => `/v3/users/${u.userId}/access_rules`
  const listRules = async (u: Fixture, query = '') =>
    json(await h.call('GET', `${rulesPath(u)}${query}`, { token: u.token }), 200).access_rules as any[]
  const strip = (r: any) => ({ service: r.service, path: r.path, method: r.method })

  test('stored with the credential, listed, shown and filtered per user', async () => {
    const u = await makeUser(h, 'member')
    const rules = [{ path: '/v2.1/servers/*/ips', method: 'GET', service: 'compute' }, { path: '/v2/images', method: 'POST', service: 'image' }]
    const ac = await create(u, { access_rules: rules })
    assert.equal(ac.access_rules.length, 2)
    for (const r of ac.access_rules) {
      assert.match(r.id, /^[0-9a-f]{32}$/)
      assert.deepEqual(Object.keys(r).sort(), ['id', 'method', 'path', 'service'])
    }
    assert.deepEqual(ac.access_rules.map(strip).sort((a: any, b: any) => a.service.localeCompare(b.service)), rules.map(strip))
    // Shown the same way with the credential, and in the list.
    const shownAc = json(await h.call('GET', `${path(u)}/${ac.id}`, { token: u.token }), 200).application_credential
    assert.deepEqual(shownAc.access_rules, ac.access_rules)
    assert.deepEqual(json(await h.call('GET', path(u), { token: u.token }), 200).application_credentials[0].access_rules, ac.access_rules)

    const base = rulesPath(u)
    const listed = json(await h.call('GET', base, { token: u.token }), 200)
    assert.deepEqual(listed.access_rules.map((r: any) => r.id).sort(), ac.access_rules.map((r: any) => r.id).sort())
    assert.equal(listed.links.self, `http://localhost:80${base}`)
    const one = ac.access_rules[0]
    const shown = json(await h.call('GET', `${base}/${one.id}`, { token: u.token }), 200).access_rule
    assert.deepEqual(shown, { ...one, links: { self: `http://localhost:80${base}/${one.id}` } })
    assert.deepEqual((await listRules(u, '?service=image')).map((r) => r.path), ['/v2/images'])
    assert.deepEqual((await listRules(u, '?method=GET&service=compute')).map((r) => r.id),
      [ac.access_rules.find((r: any) => r.service === 'compute').id])
    assert.deepEqual((await listRules(u, '?path=/v2/images')).map((r) => r.service), ['image'])
    assert.deepEqual(await listRules(u, '?service=network'), [])
    assertError(await h.call('GET', `${base}/nope`, { token: u.token }), 404, 'Could not find Access Rule: nope.')
    assertError(await h.call('DELETE', `${base}/nope`, { token: u.token }), 404, 'Could not find Access Rule: nope.')
    // A user without credentials has no rules.
    assert.deepEqual(await listRules(await makeUser(h, 'member')), [])
  })

  test('a rule is reused by content and by id; the same rule twice is linked once', async () => {
    const u = await makeUser(h, 'member')
    const rule = { service: 'compute', path: '/v2.1/servers', method: 'GET' }
    const first = await create(u, { access_rules: [rule] })
    const ruleId = first.access_rules[0].id
    // Same content: the user's existing rule, not a new one.
    const second = await create(u, { access_rules: [rule, { ...rule }] })
    assert.deepEqual(second.access_rules, [{ id: ruleId, ...rule }])
    // By id (alone, or with other content: the id wins), and next to a new rule.
    const third = await create(u, { access_rules: [{ id: ruleId }, { service: 'image', path: '/v2/images', method: 'GET' }] })
    assert.equal(third.access_rules.length, 2)
    assert.ok(third.access_rules.some((r: any) => r.id === ruleId && r.path === rule.path))
    const fourth = await create(u, { access_rules: [{ id: ruleId, service: 'compute', path: '/other', method: 'PUT' }] })
    assert.deepEqual(fourth.access_rules, [{ id: ruleId, ...rule }])
    // An unused id given with content names the new rule.
    const chosen = newId()
    const fifth = await create(u, { access_rules: [{ id: chosen, service: 'volume', path: '/v3/volumes', method: 'GET' }] })
    assert.deepEqual(fifth.access_rules, [{ id: chosen, service: 'volume', path: '/v3/volumes', method: 'GET' }])
    // Same content by another user: a rule of their own.
    const other = await makeUser(h, 'member')
    const theirs = await create(other, { access_rules: [rule] })
    assert.notEqual(theirs.access_rules[0].id, ruleId)
    assert.deepEqual((await listRules(u)).map(strip).sort((a, b) => a.service.localeCompare(b.service)), [
      rule, { service: 'image', path: '/v2/images', method: 'GET' }, { service: 'volume', path: '/v3/volumes', method: 'GET' }])
    assert.deepEqual((await listRules(other)).map((r) => r.id), [theirs.access_rules[0].id])
    const rows = await h.identity.ctx.db.selectFrom('app_cred_access_rules').selectAll().where('access_rule_id', '=', ruleId).execute()
    assert.deepEqual(rows.map((r) => r.app_cred_id).sort(), [first.id, second.id, third.id, fourth.id].sort())
  })

  test('a rule id must be one of the caller\'s own; refused requests change nothing', async () => {
    const u = await makeUser(h, 'member')
    const other = await makeUser(h, 'member')
    const theirs = (await create(other, { access_rules: [{ service: 'compute', path: '/x', method: 'GET' }] })).access_rules[0]
    const name = uniq('refused')
    const post = (rules: unknown) => h.call('POST', path(u), { token: u.token, body: { application_credential: { name, access_rules: rules } } })
    assertError(await post([{ id: theirs.id }]), 404, `Could not find Access Rule: ${theirs.id}.`)
    // Not even with content: the id is another user's.
    assertError(await post([{ id: theirs.id, service: 'compute', path: '/x', method: 'GET' }]), 404, `Could not find Access Rule: ${theirs.id}.`)
    assertError(await post([{ service: 'image', path: '/new', method: 'GET' }, { id: 'unknown' }]), 404, 'Could not find Access Rule: unknown.')
    assertError(await post([{ service: 'compute' }]), 400, /access rule needs/)
    assertError(await post([{ id: 'bad id!' }]), 400)
    // Nothing was made: no credential, and no rule from the first, valid item.
    assert.deepEqual(json(await h.call('GET', `${path(u)}?name=${name}`, { token: u.token }), 200).application_credentials, [])
    assert.deepEqual(await listRules(u), [])
    // The other user's rule is untouched and still theirs alone.
    assert.deepEqual((await listRules(other)).map((r) => r.id), [theirs.id])
  })

  test('in use they cannot be deleted; they outlive their credentials and can then be deleted', async () => {
    const u = await makeUser(h, 'member')
    const rule = { service: 'compute', path: '/v2.1/servers/*/ips', method: 'GET' }
    const a = await create(u, { access_rules: [rule] })
    const b = await create(u, { access_rules: [rule] })
    const id = a.access_rules[0].id
    const base = rulesPath(u)
    assertError(await h.call('DELETE', `${base}/${id}`, { token: u.token }), 403, 'May not delete access rule in use')
    assert.equal((await h.call('DELETE', `${path(u)}/${a.id}`, { token: u.token })).statusCode, 204)
    // Still used by b.
    assertError(await h.call('DELETE', `${base}/${id}`, { token: u.token }), 403, 'May not delete access rule in use')
    assert.deepEqual(json(await h.call('GET', `${path(u)}/${b.id}`, { token: u.token }), 200).application_credential.access_rules, [{ id, ...rule }])
    assert.equal((await h.call('DELETE', `${path(u)}/${b.id}`, { token: u.token })).statusCode, 204)
    // No credential left, but the rule stays the user's.
    assert.deepEqual((await listRules(u)).map((r) => r.id), [id])
    json(await h.call('GET', `${base}/${id}`, { token: u.token }), 200)
    const r = await h.call('DELETE', `${base}/${id}`, { token: u.token })
    assert.equal(r.statusCode, 204)
    assert.equal(r.body, '')
    assert.deepEqual(await listRules(u), [])
    assertError(await h.call('GET', `${base}/${id}`, { token: u.token }), 404, `Could not find Access Rule: ${id}.`)
    assertError(await h.call('DELETE', `${base}/${id}`, { token: u.token }), 404)
    // The same content again makes a new rule.
    const c2 = await create(u, { access_rules: [rule] })
    assert.notEqual(c2.access_rules[0].id, id)
  })

  test('RBAC: others may not see or delete them, nor reach them through their own path; the admin may', async () => {
    const u = await makeUser(h, 'member')
    const ac = await create(u, { access_rules: [{ service: 'compute', path: '/x', method: 'GET' }] })
    const one = ac.access_rules[0]
    const base = rulesPath(u)
    assertError(await h.call('GET', base, { token: bob.token }), 403)
    assertError(await h.call('GET', `${base}/${one.id}`, { token: bob.token }), 403)
    assertError(await h.call('DELETE', `${base}/${one.id}`, { token: bob.token }), 403)
    assertError(await h.call('GET', `/v3/users/${bob.userId}/access_rules/${one.id}`, { token: bob.token }), 404)
    assertError(await h.call('DELETE', `/v3/users/${bob.userId}/access_rules/${one.id}`, { token: bob.token }), 404)
    assert.deepEqual(json(await h.call('GET', base), 200).access_rules.map((r: any) => r.id), [one.id])
    json(await h.call('GET', `${base}/${one.id}`), 200)
    assert.equal((await h.call('DELETE', `${path(u)}/${ac.id}`)).statusCode, 204)
    assert.equal((await h.call('DELETE', `${base}/${one.id}`)).statusCode, 204)
    assert.deepEqual(await listRules(u), [])
  })

  test('credentials deleted with a role or a project leave the user\'s rules', async () => {
    const u = await makeUser(h, 'member')
    const rule = { service: 'compute', path: '/servers', method: 'GET' }
    const ac = await create(u, { access_rules: [rule] })
    const id = ac.access_rules[0].id
    // Deleting the project deletes the credential bound to it, not the rule.
    assert.equal((await h.call('DELETE', `/v3/projects/${u.projectId}`)).statusCode, 204)
    assertError(await h.call('GET', `${path(u)}/${ac.id}`), 404)
    assert.deepEqual(json(await h.call('GET', rulesPath(u)), 200).access_rules.map((r: any) => r.id), [id])
    assert.equal((await h.call('DELETE', `${rulesPath(u)}/${id}`)).statusCode, 204)

    // Deleting a role the user holds deletes their credentials on that project, not the rules.
    const v = await makeUser(h, 'member')
    const role = json(await h.call('POST', '/v3/roles', { body: { role: { name: uniq('role') } } }), 201).role
    await grant(h, v.userId, v.projectId, role.name)
    const ac2 = await create(v, { access_rules: [rule] })
    assert.equal((await h.call('DELETE', `/v3/roles/${role.id}`)).statusCode, 204)
    assertError(await h.call('GET', `${path(v)}/${ac2.id}`), 404)
    assert.deepEqual(json(await h.call('GET', rulesPath(v)), 200).access_rules.map((r: any) => r.id), [ac2.access_rules[0].id])
  })
})
