import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { findEc2Credential } from '../credentials-store.ts'
import { type IdentityHarness, identityHarness } from '../testing.ts'
import { type Fixture, assertError, json, makeProject, makeUser } from './cred-test-helpers.ts'
import { newId } from './common.ts'

let h: IdentityHarness
let alice: Fixture   // member of her own project
let bob: Fixture     // member of another project
let reader: Fixture

before(async () => {
  h = await identityHarness()
  alice = await makeUser(h, 'member')
  bob = await makeUser(h, 'member')
  reader = await makeUser(h, 'reader')
})
after(async () => { await h.close() })

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const ec2Blob = (access = `ak-${newId()}`, secret = `sk-${newId()}`) => JSON.stringify({ access, secret })

async function create(credential: Record<string, unknown>, token?: string) {
  return json(await h.call('POST', '/v3/credentials', { body: { credential }, token }), 201).credential
}

describe('/v3/credentials', () => {
  test('create, show, update and delete a non-EC2 credential (extra attributes kept)', async () => {
    const c = await create({ user_id: alice.userId, type: 'cert', blob: 'opaque-data', label: 'mine' })
    assert.match(c.id, /^[0-9a-f]{32}$/)
    assert.deepEqual({ user_id: c.user_id, project_id: c.project_id, type: c.type, blob: c.blob, label: c.label },
      { user_id: alice.userId, project_id: null, type: 'cert', blob: 'opaque-data', label: 'mine' })
    assert.equal(c.links.self, `http://localhost:80/v3/credentials/${c.id}`)
    assert.deepEqual(json(await h.call('GET', `/v3/credentials/${c.id}`), 200).credential, c)
    const u = json(await h.call('PATCH', `/v3/credentials/${c.id}`, { body: { credential: { blob: 'new', project_id: alice.projectId, more: 2 } } }), 200).credential
    assert.deepEqual([u.id, u.blob, u.project_id, u.label, u.more, u.type], [c.id, 'new', alice.projectId, 'mine', 2, 'cert'])
    assert.deepEqual(json(await h.call('GET', `/v3/credentials/${c.id}`), 200).credential, u)
    assert.equal((await h.call('DELETE', `/v3/credentials/${c.id}`)).statusCode, 204)
    assertError(await h.call('GET', `/v3/credentials/${c.id}`), 404, `Could not find credential: ${c.id}.`)
    assertError(await h.call('DELETE', `/v3/credentials/${c.id}`), 404)
    assertError(await h.call('PATCH', `/v3/credentials/${c.id}`, { body: { credential: { blob: 'x' } } }), 404)
  })

  test('EC2 credentials: id is sha256(access), project required, blob must be JSON with access', async () => {
    const access = `ak-${newId()}`
    const blob = JSON.stringify({ access, secret: 's3cr3t' })
    const c = await create({ user_id: alice.userId, project_id: alice.projectId, type: 'ec2', blob })
    assert.equal(c.id, sha256(access))
    assert.equal(c.blob, blob)
    assert.deepEqual(await findEc2Credential(h.identity.ctx.db, access), { userId: alice.userId, projectId: alice.projectId, secret: 's3cr3t' })
    assert.equal(await findEc2Credential(h.identity.ctx.db, 'no-such-key'), undefined)
    // The OS-EC2 API sees it as well.
    const viaEc2 = json(await h.call('GET', `/v3/users/${alice.userId}/credentials/OS-EC2/${access}`), 200).credential
    assert.deepEqual([viaEc2.access, viaEc2.secret, viaEc2.tenant_id], [access, 's3cr3t', alice.projectId])

    assertError(await h.call('POST', '/v3/credentials', { body: { credential: { user_id: alice.userId, project_id: alice.projectId, type: 'ec2', blob } } }),
      409, `Conflict occurred attempting to store credential - Duplicate entry found with ID ${c.id}.`)
    const bad = async (credential: Record<string, unknown>, msg?: string | RegExp) =>
      assertError(await h.call('POST', '/v3/credentials', { body: { credential } }), 400, msg)
    await bad({ user_id: alice.userId, type: 'ec2', blob: ec2Blob() }, /^Expecting to find project_id in credential/)
    await bad({ user_id: alice.userId, project_id: alice.projectId, type: 'ec2', blob: 'not json' }, 'Invalid blob in credential')
    await bad({ user_id: alice.userId, project_id: alice.projectId, type: 'ec2', blob: '{"secret":"x"}' }, /^Expecting to find access in credential/)
    await bad({ user_id: alice.userId, project_id: alice.projectId, type: 'ec2', blob: '[1]' }, /^Expecting to find blob in credential/)
    await bad({ user_id: alice.userId, project_id: alice.projectId, type: 'ec2', blob: { access: 'x' } })

    // Updating: the access may change (the id does not, as in Keystone); the bound scope may not.
    const newAccess = `ak2-${newId()}`
    const u = json(await h.call('PATCH', `/v3/credentials/${c.id}`, { body: { credential: {
      blob: JSON.stringify({ access: newAccess, secret: 'two' }), project_id: bob.projectId, type: 'ec2' } } }), 200).credential
    assert.equal(u.id, c.id)
    assert.equal(JSON.parse(u.blob).access, newAccess)
    assert.equal(u.project_id, bob.projectId)
    assertError(await h.call('PATCH', `/v3/credentials/${c.id}`, { body: { credential: { blob: JSON.stringify({ access: 'a', trust_id: 't' }) } } }),
      400, 'trust_id can not be updated for credential')
    assertError(await h.call('PATCH', `/v3/credentials/${c.id}`, { body: { credential: { blob: 'garbage' } } }), 400, 'Invalid blob in credential')
    assertError(await h.call('PATCH', `/v3/credentials/${c.id}`, { body: { credential: { project_id: null } } }), 400, /project_id/)
    // A cert credential without project cannot become ec2.
    const cert = await create({ user_id: alice.userId, type: 'cert', blob: 'x' })
    assertError(await h.call('PATCH', `/v3/credentials/${cert.id}`, { body: { credential: { type: 'ec2' } } }), 400, /^Expecting to find project_id/)
    assert.equal(json(await h.call('GET', `/v3/credentials/${cert.id}`), 200).credential.type, 'cert')
  })

  test('validation: required fields, types, unknown users and projects, ids', async () => {
    const bad = async (credential: unknown, status = 400, msg?: string | RegExp) =>
      assertError(await h.call('POST', '/v3/credentials', { body: { credential } }), status, msg)
    await bad({ type: 'cert', blob: 'x' })
    await bad({ user_id: alice.userId, blob: 'x' })
    await bad({ user_id: alice.userId, type: 'cert' })
    await bad({ user_id: alice.userId, type: 'cert', blob: 5 })
    await bad({ user_id: alice.userId, type: 7, blob: 'x' })
    await bad('string')
    assertError(await h.call('POST', '/v3/credentials', { body: '{"credential":' }), 400, /not valid JSON/)
    await bad({ user_id: 'nobody', type: 'cert', blob: 'x' }, 404, 'Could not find user: nobody.')
    await bad({ user_id: alice.userId, project_id: 'nowhere', type: 'cert', blob: 'x' }, 404, 'Could not find project: nowhere.')
    const c = await create({ user_id: alice.userId, type: 'cert', blob: 'x' })
    assertError(await h.call('PATCH', `/v3/credentials/${c.id}`, { body: { credential: {} } }), 400)
    assertError(await h.call('PATCH', `/v3/credentials/${c.id}`, { body: { credential: { id: 'other' } } }), 400, 'Cannot change ID')
    assertError(await h.call('PATCH', `/v3/credentials/${c.id}`, { body: { credential: { blob: 1 } } }), 400)
    assertError(await h.call('PATCH', `/v3/credentials/${c.id}`, { body: { credential: { user_id: 'nobody' } } }), 404, 'Could not find user: nobody.')
    assert.deepEqual(json(await h.call('GET', `/v3/credentials/${c.id}`), 200).credential, c)
  })

  test('list filters by user_id and type', async () => {
    const p = await makeProject(h)
    const u = await makeUser(h, 'member', p)
    const a = await create({ user_id: u.userId, type: 'cert', blob: '1' })
    const b = await create({ user_id: u.userId, project_id: p, type: 'ec2', blob: ec2Blob() })
    const ids = async (q: string) => json(await h.call('GET', `/v3/credentials${q}`), 200).credentials.map((x: any) => x.id).sort()
    assert.deepEqual(await ids(`?user_id=${u.userId}`), [a.id, b.id].sort())
    assert.deepEqual(await ids(`?user_id=${u.userId}&type=ec2`), [b.id])
    assert.deepEqual(await ids(`?user_id=${u.userId}&type=cert`), [a.id])
    assert.ok((await ids('')).includes(a.id))
    const list = json(await h.call('GET', `/v3/credentials?user_id=${u.userId}`), 200)
    assert.equal(list.links.self, `http://localhost:80/v3/credentials?user_id=${u.userId}`)
  })

  test('RBAC: users manage only their own credentials', async () => {
    const mine = await create({ user_id: alice.userId, type: 'cert', blob: 'alice' }, alice.token)
    const theirs = await create({ user_id: bob.userId, type: 'cert', blob: 'bob' })
    assertError(await h.call('POST', '/v3/credentials', { token: alice.token, body: { credential: { user_id: bob.userId, type: 'cert', blob: 'x' } } }),
      403, 'You are not authorized to perform the requested action: identity:create_credential.')
    const listed = json(await h.call('GET', '/v3/credentials', { token: alice.token }), 200).credentials
    assert.ok(listed.length >= 1 && listed.every((x: any) => x.user_id === alice.userId))
    assert.ok(listed.some((x: any) => x.id === mine.id))
    assert.deepEqual(json(await h.call('GET', `/v3/credentials?user_id=${bob.userId}`, { token: alice.token }), 200).credentials, [])
    assertError(await h.call('GET', `/v3/credentials/${theirs.id}`, { token: alice.token }), 403)
    assertError(await h.call('PATCH', `/v3/credentials/${theirs.id}`, { token: alice.token, body: { credential: { blob: 'x' } } }), 403)
    assertError(await h.call('DELETE', `/v3/credentials/${theirs.id}`, { token: alice.token }), 403)
    // Giving one's credential away is refused (the updated owner must pass the policy too).
    assertError(await h.call('PATCH', `/v3/credentials/${mine.id}`, { token: alice.token, body: { credential: { user_id: bob.userId } } }), 403)
    assert.equal(json(await h.call('GET', `/v3/credentials/${mine.id}`, { token: alice.token }), 200).credential.user_id, alice.userId)
    json(await h.call('PATCH', `/v3/credentials/${mine.id}`, { token: alice.token, body: { credential: { blob: 'changed' } } }), 200)
    // A reader may read nothing of others either.
    assertError(await h.call('GET', `/v3/credentials/${theirs.id}`, { token: reader.token }), 403)
    assert.equal(json(await h.call('GET', `/v3/credentials/${theirs.id}`), 200).credential.blob, 'bob')
    assert.equal((await h.call('DELETE', `/v3/credentials/${mine.id}`, { token: alice.token })).statusCode, 204)
    assertError(await h.call('GET', '/v3/credentials', { token: null }), 401)
  })
})

describe('OS-EC2', () => {
  test('a user creates, lists, shows and deletes their EC2 credentials', async () => {
    const base = `/v3/users/${alice.userId}/credentials/OS-EC2`
    const c = json(await h.call('POST', base, { token: alice.token, body: { tenant_id: alice.projectId } }), 201).credential
    assert.match(c.access, /^[0-9a-f]{32}$/)
    assert.match(c.secret, /^[0-9a-f]{32}$/)
    assert.notEqual(c.access, c.secret)
    assert.deepEqual({ user_id: c.user_id, tenant_id: c.tenant_id, trust_id: c.trust_id },
      { user_id: alice.userId, tenant_id: alice.projectId, trust_id: null })
    assert.equal(c.links.self, `http://localhost:80${base}/${c.access}`)
    const c2 = json(await h.call('POST', base, { token: alice.token, body: { tenant_id: alice.projectId } }), 201).credential
    const list = json(await h.call('GET', base, { token: alice.token }), 200)
    const accesses = list.credentials.map((x: any) => x.access)
    assert.ok(accesses.includes(c.access) && accesses.includes(c2.access))
    assert.ok(list.credentials.every((x: any) => x.user_id === alice.userId))
    assert.deepEqual(json(await h.call('GET', `${base}/${c.access}`, { token: alice.token }), 200).credential, c)

    // It is a credential of type ec2 as /v3/credentials shows it, found by the S3 API.
    const stored = json(await h.call('GET', `/v3/credentials/${sha256(c.access)}`, { token: alice.token }), 200).credential
    assert.equal(stored.type, 'ec2')
    assert.equal(stored.project_id, alice.projectId)
    assert.deepEqual(JSON.parse(stored.blob), { access: c.access, secret: c.secret, trust_id: null })
    assert.deepEqual(await findEc2Credential(h.identity.ctx.db, c.access), { userId: alice.userId, projectId: alice.projectId, secret: c.secret })

    assert.equal((await h.call('DELETE', `${base}/${c.access}`, { token: alice.token })).statusCode, 204)
    assertError(await h.call('GET', `${base}/${c.access}`, { token: alice.token }), 404, `Could not find credential: ${sha256(c.access)}.`)
    assertError(await h.call('DELETE', `${base}/${c.access}`, { token: alice.token }), 404)
    assert.equal(await findEc2Credential(h.identity.ctx.db, c.access), undefined)
    assert.ok(!json(await h.call('GET', base, { token: alice.token }), 200).credentials.some((x: any) => x.access === c.access))
  })

  test('errors: missing or unknown tenant, unknown user, wrong owner in the path', async () => {
    const base = `/v3/users/${alice.userId}/credentials/OS-EC2`
    assertError(await h.call('POST', base, { token: alice.token, body: {} }), 400, /tenant_id/)
    assertError(await h.call('POST', base, { token: alice.token, body: { tenant_id: 5 } }), 400)
    assertError(await h.call('POST', base, { token: alice.token, body: { tenant_id: 'nowhere' } }), 404, 'Could not find project: nowhere.')
    assertError(await h.call('POST', base, { token: alice.token, body: '{' }), 400)
    assertError(await h.call('POST', '/v3/users/nobody/credentials/OS-EC2', { body: { tenant_id: alice.projectId } }), 404, 'Could not find user: nobody.')
    assertError(await h.call('GET', '/v3/users/nobody/credentials/OS-EC2'), 404, 'Could not find user: nobody.')
    const c = json(await h.call('POST', base, { token: alice.token, body: { tenant_id: alice.projectId } }), 201).credential
    // The credential exists but is not bob's: not found under his path.
    assertError(await h.call('GET', `/v3/users/${bob.userId}/credentials/OS-EC2/${c.access}`), 404, 'EC2 access key not found.')
    // A non-EC2 credential is not an EC2 key.
    const cert = await create({ user_id: alice.userId, type: 'cert', blob: 'x' })
    assert.ok(cert.id)
    assertError(await h.call('GET', `${base}/unknown-access`, { token: alice.token }), 404, /Could not find credential/)
  })

  test('RBAC: only the owner (or an admin) manages a user\'s EC2 credentials', async () => {
    const base = `/v3/users/${alice.userId}/credentials/OS-EC2`
    const c = json(await h.call('POST', base, { token: alice.token, body: { tenant_id: alice.projectId } }), 201).credential
    assertError(await h.call('POST', base, { token: bob.token, body: { tenant_id: bob.projectId } }), 403,
      'You are not authorized to perform the requested action: identity:ec2_create_credential.')
    assertError(await h.call('GET', base, { token: bob.token }), 403)
    assertError(await h.call('GET', `${base}/${c.access}`, { token: bob.token }), 403)
    assertError(await h.call('DELETE', `${base}/${c.access}`, { token: bob.token }), 403)
    assertError(await h.call('GET', `${base}/${c.access}`, { token: reader.token }), 403)
    // The admin sees and manages everyone's.
    assert.ok(json(await h.call('GET', base), 200).credentials.some((x: any) => x.access === c.access))
    const forAlice = json(await h.call('POST', base, { body: { tenant_id: bob.projectId } }), 201).credential
    assert.equal(forAlice.user_id, alice.userId)
    assert.equal((await h.call('DELETE', `${base}/${forAlice.access}`)).statusCode, 204)
    json(await h.call('GET', `${base}/${c.access}`, { token: alice.token }), 200)
  })
})
