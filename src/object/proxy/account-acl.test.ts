// Account ACLs end to end: owners set X-Account-Access-Control, other projects' users get the
// access it grants, malformed values are refused as tempauth refuses them.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let A: string
type User = Awaited<ReturnType<SwiftFixture['user']>>
let ro: User, rw: User, adm: User, stranger: User
before(async () => {
  f = await swiftFixture()
  A = `/v1/${f.account}`
  ;[ro, rw, adm, stranger] = await Promise.all(['acl-ro', 'acl-rw', 'acl-adm', 'acl-none'].map((n) => f.user(n)))
})
after(async () => { await f?.close() })

const setAcl = (value: string, token?: string) => f.call('POST', A, { token, headers: { 'x-account-access-control': value } })

describe('X-Account-Access-Control', () => {
  it('is refused when malformed, before anything else', async () => {
    const bad = await setAcl('{"admin": "x"}')
    assert.equal(bad.statusCode, 400)
    assert.equal(bad.body, 'X-Account-Access-Control invalid: Value for key "admin" must be a list\n\nInput: {"admin": "x"}\n')
    assert.equal((await setAcl('{"owners": []}')).statusCode, 400)
    assert.equal((await setAcl('not json')).statusCode, 400)
    assert.equal((await setAcl('{"admin":[]}', stranger.token)).statusCode, 403, 'valid but not an owner')
    assert.equal((await setAcl('nope', stranger.token)).statusCode, 400, 'validated before authorization, as tempauth')
  })

  it('is set by owners, kept as sysmeta and shown back to owners only', async () => {
    const acl = { 'read-only': [`${ro.projectId}:*`], 'read-write': [`${rw.projectId}:${rw.userId}`], admin: [`*:${adm.userId}`] }
    assert.equal((await setAcl(JSON.stringify(acl))).statusCode, 204)
    const head = await f.call('HEAD', A)
    assert.equal(head.headers['x-account-access-control'],
      `{"admin":["*:${adm.userId}"],"read-only":["${ro.projectId}:*"],"read-write":["${rw.projectId}:${rw.userId}"]}`)
    assert.equal(head.headers['x-account-sysmeta-core-access-control'], undefined)
    const asRo = await f.call('HEAD', A, { token: ro.token })
    assert.equal(asRo.statusCode, 204)
    assert.equal(asRo.headers['x-account-access-control'], undefined)
  })

  it('read-only: lists and reads everything, writes nothing', async () => {
    assert.equal((await f.call('PUT', `${A}/shared`)).statusCode, 201)
    assert.equal((await f.call('PUT', `${A}/shared/doc`, { body: 'hello' })).statusCode, 201)
    const list = await f.call('GET', `${A}?format=json`, { token: ro.token })
    assert.equal(list.statusCode, 200)
    assert.ok(JSON.parse(list.body).some((c: { name: string }) => c.name === 'shared'))
    assert.equal((await f.call('GET', `${A}/shared`, { token: ro.token })).body, 'doc\n')
    assert.equal((await f.call('GET', `${A}/shared/doc`, { token: ro.token })).body, 'hello')
    assert.equal((await f.call('PUT', `${A}/shared/x`, { token: ro.token, body: 'x' })).statusCode, 403)
    assert.equal((await f.call('PUT', `${A}/mine`, { token: ro.token })).statusCode, 403)
    assert.equal((await f.call('DELETE', `${A}/shared/doc`, { token: ro.token })).statusCode, 403)
    assert.equal((await f.call('GET', `${A}/shared/doc`, { token: stranger.token })).statusCode, 403)
  })

  it('read-write: writes containers and objects, not the account nor ACLs', async () => {
    assert.equal((await f.call('PUT', `${A}/rw-box`, { token: rw.token })).statusCode, 201)
    assert.equal((await f.call('PUT', `${A}/rw-box/o`, { token: rw.token, body: 'rw' })).statusCode, 201)
    assert.equal((await f.call('POST', `${A}/rw-box`, { token: rw.token, headers: { 'x-container-read': '.r:*', 'x-container-meta-a': 'b' } })).statusCode, 204)
    const ch = await f.call('HEAD', `${A}/rw-box`)
    assert.equal(ch.headers['x-container-meta-a'], 'b')
    assert.equal(ch.headers['x-container-read'], undefined, 'container ACLs are owner-only')
    assert.equal((await f.call('POST', A, { token: rw.token, headers: { 'x-account-meta-x': 'y' } })).statusCode, 403)
    assert.equal((await f.call('GET', A, { token: rw.token })).statusCode, 200)
    assert.equal((await f.call('DELETE', `${A}/rw-box/o`, { token: rw.token })).statusCode, 204)
  })

  it('admin: an owner, who may change the ACL; removing it takes the access away', async () => {
    assert.equal((await f.call('POST', A, { token: adm.token, headers: { 'x-account-meta-by': 'admin' } })).statusCode, 204)
    assert.ok((await f.call('HEAD', A, { token: adm.token })).headers['x-account-access-control'])
    assert.equal((await setAcl(JSON.stringify({ admin: [`*:${adm.userId}`] }), adm.token)).statusCode, 204)
    assert.equal((await f.call('GET', `${A}/shared/doc`, { token: ro.token })).statusCode, 403)
    assert.equal((await setAcl('', adm.token)).statusCode, 204)
    assert.equal((await f.call('HEAD', A)).headers['x-account-access-control'], undefined)
    assert.equal((await f.call('HEAD', A, { token: adm.token })).statusCode, 403)
  })
})
