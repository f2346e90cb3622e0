import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type IdentityHarness, identityHarness } from '../testing.ts'
import { PASSWORD, fixtures, uniq } from '../assignments-testkit.ts'
import { assertError, json } from './cred-test-helpers.ts'

// OS-TRUST: trusts CRUD and RBAC, and trust-scoped tokens (issue, validate, roles,
// impersonation, use counts, expiry, invalidation). Names are unique: a PostgreSQL run
// shares one database.

let h: IdentityHarness
let f: ReturnType<typeof fixtures>
const P = '/v3/OS-TRUST/trusts'

// trustor holds `delegated` and `kept` on project; trustee and eve hold nothing there.
let projectId: string
let trustor: { id: string; token: string }
let trustee: { id: string; token: string }
let eve: { id: string; token: string }
let delegated: { id: string; name: string }
let kept: { id: string; name: string }

before(async () => {
  h = await identityHarness()
  f = fixtures(h)
  projectId = await f.project()
  delegated = { name: uniq('Delegated'), id: '' }
  kept = { name: uniq('Kept'), id: '' }
  delegated.id = await f.role({ name: delegated.name })
  kept.id = await f.role({ name: kept.name })
  const trustorId = await f.user()
  for (const r of [delegated.id, kept.id]) await f.grant(`/projects/${projectId}/users/${trustorId}/roles/${r}`)
  trustor = { id: trustorId, token: await h.login(trustorId, PASSWORD, { project: { id: projectId } }) }
  const trusteeId = await f.user()
  trustee = { id: trusteeId, token: await h.login(trusteeId, PASSWORD) }
  const e = await f.memberOf('member')
  eve = { id: e.userId, token: e.token }
})
after(async () => { await h.close() })

function trustBody(o: Record<string, unknown> = {}) {
  return { trust: { trustor_user_id: trustor.id, trustee_user_id: trustee.id, project_id: projectId,
    roles: [{ name: delegated.name }], impersonation: false, ...o } }
}
async function createTrust(o: Record<string, unknown> = {}): Promise<any> {
  return json(await h.call('POST', P, { token: trustor.token, body: trustBody(o) }), 201).trust
}
/** Asks for a trust-scoped token as the trustee (password method unless a token is given). */
function trustAuth(trustId: string, o: { userId?: string; token?: string } = {}) {
  const identity = o.token
    ? { methods: ['token'], token: { id: o.token } }
    : { methods: ['password'], password: { user: { id: o.userId ?? trustee.id, password: PASSWORD } } }
  return h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: { identity, scope: { 'OS-TRUST:trust': { id: trustId } } } } })
}
async function trustToken(trustId: string, o: { userId?: string; token?: string } = {}): Promise<{ id: string; body: any }> {
  const r = await trustAuth(trustId, o)
  return { id: r.headers['x-subject-token'] as string, body: json(r, 201).token }
}
const validate = (subject: string) => h.call('GET', '/v3/auth/tokens', { headers: { 'x-subject-token': subject } })

describe('OS-TRUST trusts', () => {
  test('create, show, list and delete, with Keystone\'s views', async () => {
    const t = await createTrust({ remaining_uses: 5, color: 'blue' })
    assert.match(t.id, /^[0-9a-f]{32}$/)
    assert.equal(t.trustor_user_id, trustor.id)
    assert.equal(t.trustee_user_id, trustee.id)
    assert.equal(t.project_id, projectId)
    assert.equal(t.impersonation, false)
    assert.equal(t.expires_at, null)
    assert.equal(t.remaining_uses, 5)
    assert.equal(t.redelegation_count, 0)
    assert.equal(t.redelegated_trust_id, null)
    assert.equal(t.color, 'blue', 'unknown attributes are kept')
    assert.equal(t.links.self, `http://localhost:80/v3/OS-TRUST/trusts/${t.id}`)
    assert.deepEqual(t.roles_links, { self: `http://localhost:80/v3/OS-TRUST/trusts/${t.id}/roles`, previous: null, next: null })
    assert.equal(t.roles.length, 1)
    assert.equal(t.roles[0].id, delegated.id)
    assert.equal(t.roles[0].name, delegated.name)
    assert.equal(t.roles[0].links.self, `http://localhost:80/v3/roles/${delegated.id}`)

    // Trustor and trustee both see it.
    for (const token of [trustor.token, trustee.token]) {
      assert.deepEqual(json(await h.call('GET', `${P}/${t.id}`, { token }), 200).trust, t)
    }
    // Lists: by trustor (trustor), by trustee (trustee), everything (admin); no roles in lists.
    const mine = json(await h.call('GET', `${P}?trustor_user_id=${trustor.id}`, { token: trustor.token }), 200)
    assert.ok(mine.trusts.some((x: any) => x.id === t.id))
    assert.ok(mine.trusts.every((x: any) => x.trustor_user_id === trustor.id && x.roles === undefined))
    assert.equal(mine.links.self, `http://localhost:80${P}?trustor_user_id=${trustor.id}`)
    const theirs = json(await h.call('GET', `${P}/?trustee_user_id=${trustee.id}`, { token: trustee.token }), 200).trusts
    assert.ok(theirs.some((x: any) => x.id === t.id))
    const all = json(await h.call('GET', P), 200).trusts
    assert.ok(all.some((x: any) => x.id === t.id && x.links.self.endsWith(`/OS-TRUST/trusts/${t.id}`)))

    // Delegated roles.
    const roles = json(await h.call('GET', `${P}/${t.id}/roles`, { token: trustor.token }), 200)
    assert.deepEqual(roles.roles.map((r: any) => r.id), [delegated.id])
    const role = json(await h.call('GET', `${P}/${t.id}/roles/${delegated.id}`, { token: trustee.token }), 200).role
    assert.equal(role.name, delegated.name)
    assert.equal((await h.call('HEAD', `${P}/${t.id}/roles/${delegated.id}`, { token: trustor.token })).statusCode, 200)
    assertError(await h.call('GET', `${P}/${t.id}/roles/${kept.id}`, { token: trustor.token }), 404, `Could not find role: ${kept.id}.`)
    assert.equal((await h.call('HEAD', `${P}/${t.id}/roles/${kept.id}`, { token: trustor.token })).statusCode, 404)

    assert.equal((await h.call('DELETE', `${P}/${t.id}`, { token: trustor.token })).statusCode, 204)
    assertError(await h.call('GET', `${P}/${t.id}`, { token: trustor.token }), 404, `Could not find trust: ${t.id}.`)
    assertError(await h.call('DELETE', `${P}/${t.id}`, { token: trustor.token }), 404)
    assert.ok(!json(await h.call('GET', P), 200).trusts.some((x: any) => x.id === t.id))
  })

  test('roles by id, expiry and redelegation settings are stored as given', async () => {
    const expires = new Date(Date.now() + 3600_000)
    expires.setUTCMilliseconds(0)
    const t = await createTrust({ roles: [{ id: kept.id }, { name: delegated.name }], impersonation: true,
      expires_at: expires.toISOString().replace('.000Z', 'Z'), allow_redelegation: true, redelegation_count: 2 })
    assert.equal(t.expires_at, expires.toISOString().replace('.000Z', '.000000Z'))
    assert.deepEqual(t.roles.map((r: any) => r.id).sort(), [delegated.id, kept.id].sort())
    assert.equal(t.impersonation, true)
    assert.equal(t.redelegation_count, 2)
    assert.equal(t.allow_redelegation, undefined)
    // Allowed redelegation without a count gets the maximum (3).
    const max = await createTrust({ allow_redelegation: true, expires_at: new Date(Date.now() + 7200_000).toISOString() })
    assert.equal(max.redelegation_count, 3)
    // A trust without a project needs no roles.
    const bare = json(await h.call('POST', P, { token: trustor.token, body: trustBody({ project_id: null, roles: [] }) }), 201).trust
    assert.equal(bare.project_id, null)
    assert.deepEqual(bare.roles, [])
  })

  test('bad input is rejected and changes nothing', async () => {
    const before = json(await h.call('GET', `${P}?trustor_user_id=${trustor.id}`, { token: trustor.token }), 200).trusts.length
    const post = (body: unknown) => h.call('POST', P, { token: trustor.token, body })
    assertError(await post('{"trust": '), 400, /not valid JSON/)
    assertError(await post({}), 400)
    assertError(await post({ trust: { trustor_user_id: trustor.id, trustee_user_id: trustee.id } }), 400, /impersonation/)
    assertError(await post(trustBody({ impersonation: 'yes' })), 400)
    assertError(await post(trustBody({ expires_at: 'bad.123Z' })), 400, /^Timestamp not in expected format/)
    assertError(await post(trustBody({ expires_at: '2000-01-01T00:00:00Z' })), 400, /^The 'expires_at' must not be before now/)
    assertError(await post(trustBody({ remaining_uses: 0 })), 400)
    assertError(await post(trustBody({ remaining_uses: 'many' })), 400)
    assertError(await post(trustBody({ redelegation_count: -1 })), 400)
    assertError(await post(trustBody({ roles: [{ id: delegated.id, name: delegated.name }] })), 400)
    assertError(await post(trustBody({ roles: [{ color: 'x' }] })), 400)
    assertError(await post(trustBody({ allow_redelegation: true, remaining_uses: 2 })), 400,
      'remaining_uses must not be set if redelegation is allowed')
    assertError(await post(trustBody({ allow_redelegation: true, redelegation_count: 4 })), 403,
      'Requested redelegation depth of 4 is greater than allowed 3')
    assertError(await post(trustBody({ roles: [] })), 403,
      'You are not authorized to perform the requested action: At least one role should be specified.')
    assertError(await post(trustBody({ trustee_user_id: 'nobody' })), 404, 'Could not find user: nobody.')
    assertError(await post(trustBody({ project_id: 'nothere' })), 404, 'Could not find project: nothere.')
    assertError(await post(trustBody({ roles: [{ name: 'no-such-role' }] })), 404, 'Could not find role: no-such-role.')
    // Only roles the trustor holds on the project can be delegated.
    const admin = (await h.identity.ctx.db.selectFrom('roles').select('id').where('name', '=', 'admin').executeTakeFirstOrThrow()).id
    assertError(await post(trustBody({ roles: [{ id: admin }] })), 404, `Could not find role: ${admin}.`)
    assert.equal(json(await h.call('GET', `${P}?trustor_user_id=${trustor.id}`, { token: trustor.token }), 200).trusts.length, before)
  })

  test('a trust can be created only by its trustor; its parties only see and delete their own', async () => {
    // Someone else cannot create a trust in the trustor's name (not even the admin).
    for (const token of [eve.token, h.adminToken]) {
      assertError(await h.call('POST', P, { token, body: trustBody() }), 403)
    }
    const t = await createTrust()
    for (const url of [`${P}/${t.id}`, `${P}/${t.id}/roles`, `${P}/${t.id}/roles/${delegated.id}`,
      `${P}?trustor_user_id=${trustor.id}`, `${P}?trustee_user_id=${trustee.id}`, P]) {
      assertError(await h.call('GET', url, { token: eve.token }), 403)
    }
    assertError(await h.call('DELETE', `${P}/${t.id}`, { token: eve.token }), 403)
    // The trustee may look but not delete; a non-admin cannot list every trust.
    assertError(await h.call('DELETE', `${P}/${t.id}`, { token: trustee.token }), 403)
    assertError(await h.call('GET', P, { token: trustor.token }), 403)
    // Unknown ids are 404 before any policy check.
    assertError(await h.call('GET', `${P}/nope`, { token: eve.token }), 404, 'Could not find trust: nope.')
    // The admin may see and delete any trust.
    json(await h.call('GET', `${P}/${t.id}`), 200)
    assert.equal((await h.call('DELETE', `${P}/${t.id}`)).statusCode, 204)
  })
})

describe('trust-scoped tokens', () => {
  test('the trustee gets a token with the trust\'s project and roles', async () => {
    const t = await createTrust()
    const tok = await trustToken(t.id)
    assert.deepEqual(tok.body['OS-TRUST:trust'], { id: t.id, impersonation: false,
      trustee_user: { id: trustee.id }, trustor_user: { id: trustor.id } })
    assert.equal(tok.body.user.id, trustee.id, 'no impersonation: the trustee')
    assert.equal(tok.body.project.id, projectId)
    assert.equal(tok.body.is_domain, undefined)
    assert.deepEqual(tok.body.roles, [{ id: delegated.id, name: delegated.name }])
    assert.ok(Array.isArray(tok.body.catalog) && tok.body.catalog.length > 0)
    // Validation shows the same; the token works against the API as the trustee.
    const v = json(await validate(tok.id), 200).token
    assert.deepEqual(v['OS-TRUST:trust'], tok.body['OS-TRUST:trust'])
    assert.deepEqual(v.roles, tok.body.roles)
    assert.equal(json(await h.call('GET', `${P}/${t.id}`, { token: tok.id }), 200).trust.id, t.id)
    // The token method works too, from the trustee's unscoped token.
    const viaToken = await trustToken(t.id, { token: trustee.token })
    assert.deepEqual(viaToken.body.methods, ['token', 'password'])
    assert.equal(viaToken.body.project.id, projectId)
  })

  test('with impersonation the token\'s user is the trustor', async () => {
    const t = await createTrust({ impersonation: true, roles: [{ id: delegated.id }, { id: kept.id }] })
    const tok = await trustToken(t.id)
    assert.equal(tok.body.user.id, trustor.id)
    assert.equal(tok.body['OS-TRUST:trust'].impersonation, true)
    assert.equal(tok.body['OS-TRUST:trust'].trustee_user.id, trustee.id)
    assert.deepEqual(tok.body.roles.map((r: any) => r.id).sort(), [delegated.id, kept.id].sort())
    assert.equal(json(await validate(tok.id), 200).token.user.id, trustor.id)
  })

  test('only the trustee may use a trust; a trust-scoped token cannot be rescoped or redelegate', async () => {
    const t = await createTrust()
    assertError(await trustAuth(t.id, { userId: trustor.id }), 403, 'User is not a trustee.')
    assertError(await trustAuth('nope'), 401, 'Could not find trust: nope.')
    assertError(await h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
      identity: { methods: ['password'], password: { user: { id: trustee.id, password: PASSWORD } } },
      scope: { 'OS-TRUST:trust': '' } } } }), 400)
    assertError(await h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
      identity: { methods: ['password'], password: { user: { id: trustee.id, password: PASSWORD } } },
      scope: { 'OS-TRUST:trust': { id: t.id }, project: { id: projectId } } } } }), 400)
    const tok = await trustToken(t.id)
    const rescope = await h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
      identity: { methods: ['token'], token: { id: tok.id } }, scope: { project: { id: projectId } } } } })
    assertError(rescope, 403, /Using trust-scoped token to create another token/)
    assertError(await trustAuth(t.id, { token: tok.id }), 403)
    // An impersonating token passes the trustor check but the trust does not allow redelegation.
    const imp = await createTrust({ impersonation: true, expires_at: new Date(Date.now() + 3 * 3600_000).toISOString() })
    const impTok = await trustToken(imp.id)
    assertError(await h.call('POST', P, { token: impTok.id, body: trustBody() }), 403,
      'Remaining redelegation depth of 0 out of allowed range of [0..3]')
  })

  test('a redelegatable trust can be redelegated within its limits', async () => {
    const parent = await createTrust({ impersonation: true, allow_redelegation: true, redelegation_count: 1,
      roles: [{ id: delegated.id }, { id: kept.id }], expires_at: new Date(Date.now() + 4 * 3600_000).toISOString() })
    const tok = await trustToken(parent.id)
    const post = (o: Record<string, unknown>) => h.call('POST', P, { token: tok.id, body: trustBody({ impersonation: true, ...o }) })
    assertError(await post({ remaining_uses: 1 }), 403, /must not be set in order to redelegate/)
    assertError(await post({ expires_at: new Date(Date.now() + 5 * 3600_000).toISOString() }), 403,
      'Requested expiration time is more than redelegated trust can provide')
    const child = json(await post({ trustee_user_id: eve.id, roles: [{ id: delegated.id }] }), 201).trust
    assert.equal(child.redelegated_trust_id, parent.id)
    assert.equal(child.redelegation_count, 0)
    assert.equal(child.expires_at, parent.expires_at, 'the parent\'s expiry by default')
    const eveTok = await trustToken(child.id, { userId: eve.id })
    assert.deepEqual(eveTok.body.roles.map((r: any) => r.id), [delegated.id])
    // Deleting the parent takes the child (and its tokens) with it.
    assert.equal((await h.call('DELETE', `${P}/${parent.id}`, { token: trustor.token })).statusCode, 204)
    assertError(await h.call('GET', `${P}/${child.id}`), 404)
    assertError(await validate(eveTok.id), 404)
  })

  test('remaining_uses counts token issues; a used-up trust gives no more tokens', async () => {
    const t = await createTrust({ remaining_uses: 2 })
    const first = await trustToken(t.id)
    assert.equal(json(await h.call('GET', `${P}/${t.id}`, { token: trustor.token }), 200).trust.remaining_uses, 1)
    await trustToken(t.id)
    assertError(await trustAuth(t.id), 401, `Could not find trust: ${t.id}.`)
    // Used up, it reads as absent (Keystone), though tokens already issued stay valid.
    assertError(await h.call('GET', `${P}/${t.id}`, { token: trustor.token }), 404)
    json(await validate(first.id), 200)
    const row = await h.identity.ctx.db.selectFrom('trusts').select('remaining_uses').where('id', '=', t.id).executeTakeFirstOrThrow()
    assert.equal(row.remaining_uses, 0)
    // A failed issue consumes nothing.
    const u = await createTrust({ remaining_uses: 3 })
    assertError(await trustAuth(u.id, { userId: eve.id }), 403)
    assert.equal(json(await h.call('GET', `${P}/${u.id}`, { token: trustor.token }), 200).trust.remaining_uses, 3)
  })

  test('tokens live no longer than the trust; an expired trust is gone', async () => {
    const expires = new Date(Date.now() + 600_000).toISOString()
    const t = await createTrust({ expires_at: expires })
    const tok = await trustToken(t.id)
    assert.ok(Date.parse(tok.body.expires_at) <= Date.parse(expires))
    await h.identity.ctx.db.updateTable('trusts').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', t.id).execute()
    h.identity.ctx.changed()
    assertError(await trustAuth(t.id), 401, `Could not find trust: ${t.id}.`)
    assertError(await validate(tok.id), 404)
    assertError(await h.call('GET', `${P}/${t.id}`, { token: trustor.token }), 404)
    // It can still be deleted.
    assert.equal((await h.call('DELETE', `${P}/${t.id}`, { token: trustor.token })).statusCode, 204)
  })

  test('deleting the trust, or the trustor losing a delegated role, invalidates its tokens', async () => {
    const t = await createTrust()
    const tok = await trustToken(t.id)
    json(await validate(tok.id), 200)
    assert.equal((await h.call('DELETE', `${P}/${t.id}`, { token: trustor.token })).statusCode, 204)
    assertError(await validate(tok.id), 404)
    assertError(await h.call('GET', '/v3/auth/projects', { token: tok.id }), 401)
    assertError(await trustAuth(t.id), 401)

    // The trustor loses the delegated role: issue is 403, validation 404.
    const p2 = await f.project()
    const r2 = await f.role()
    await f.grant(`/projects/${p2}/users/${trustor.id}/roles/${r2}`)
    const tok2 = await h.login(trustor.id, PASSWORD, { project: { id: p2 } })
    const t2 = json(await h.call('POST', P, { token: tok2, body: trustBody({ project_id: p2, roles: [{ id: r2 }] }) }), 201).trust
    const trustTok = await trustToken(t2.id)
    json(await validate(trustTok.id), 200)
    assert.equal((await h.call('DELETE', `/v3/projects/${p2}/users/${trustor.id}/roles/${r2}`)).statusCode, 204)
    assertError(await validate(trustTok.id), 404)
    assertError(await trustAuth(t2.id), 403, 'Trustee has no delegated roles.')
  })

  test('a restricted application credential cannot manage trusts', async () => {
    const ac = json(await h.call('POST', `/v3/users/${trustor.id}/application_credentials`, { token: trustor.token,
      body: { application_credential: { name: uniq('ac') } } }), 201).application_credential
    const r = await h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
      identity: { methods: ['application_credential'], application_credential: { id: ac.id, secret: ac.secret } } } } })
    const acToken = r.headers['x-subject-token'] as string
    json(r, 201)
    assertError(await h.call('POST', P, { token: acToken, body: trustBody() }), 403,
      "You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing trusts.")
    const t = await createTrust()
    assertError(await h.call('DELETE', `${P}/${t.id}`, { token: acToken }), 403)
    // Nor can an application credential ask for a trust scope.
    const scoped = await h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
      identity: { methods: ['application_credential'], application_credential: { id: ac.id, secret: ac.secret } },
      scope: { 'OS-TRUST:trust': { id: t.id } } } } })
    assertError(scoped, 401)
  })
})
