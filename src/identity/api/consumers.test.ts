import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { type IdentityHarness, identityHarness } from '../testing.ts'
import { rbacTokens } from '../ext-fixtures.ts'
import { verifyPassword } from '../passwords.ts'
import { newId } from './common.ts'

describe('/v3/OS-OAUTH1/consumers', () => {
  let h: IdentityHarness
  let t: Awaited<ReturnType<typeof rbacTokens>>
  before(async () => { h = await identityHarness(); t = await rbacTokens(h) })
  after(async () => { await h.close() })

  const base = '/v3/OS-OAUTH1/consumers'
  const create = async (consumer: unknown) => h.call('POST', base, { body: { consumer } })

  it('creates a consumer with a secret shown once and stored hashed', async () => {
    const description = `desc-${newId()}`
    const r = await create({ description, id: 'mine', secret: 'chosen', 'x:tag': 1 })
    assert.equal(r.statusCode, 201)
    const con = r.json().consumer
    assert.equal(con.description, description)
    assert.notEqual(con.id, 'mine')
    assert.equal(typeof con.secret, 'string')
    assert.notEqual(con.secret, 'chosen')
    assert.ok(con.secret.length >= 32)
    assert.equal(con.x_tag, 1)
    assert.match(con.links.self, new RegExp(`/v3/OS-OAUTH1/consumers/${con.id}$`))

    const row = await h.identity.ctx.db.selectFrom('consumers').selectAll().where('id', '=', con.id).executeTakeFirstOrThrow()
    assert.notEqual(row.secret_hash, con.secret)
    assert.ok(await verifyPassword(con.secret, row.secret_hash))

    const shown = (await h.call('GET', `${base}/${con.id}`)).json().consumer
    for (const k of ['description', 'id', 'links']) assert.deepEqual(shown[k], con[k])
    assert.equal(shown.secret, undefined)
    const listed = (await h.call('GET', base)).json()
    const item = listed.consumers.find((x: { id: string }) => x.id === con.id)
    assert.ok(item)
    assert.equal(item.secret, undefined)
    assert.ok(listed.links.self.endsWith(base))
  })

  it('updates the description and extra attributes, deletes', async () => {
    const con = (await create({ description: 'one' })).json().consumer
    const u = await h.call('PATCH', `${base}/${con.id}`, { body: { consumer: { description: 'two', color: 'blue' } } })
    assert.equal(u.statusCode, 200)
    assert.equal(u.json().consumer.description, 'two')
    assert.equal(u.json().consumer.secret, undefined)
    const shown = (await h.call('GET', `${base}/${con.id}`)).json().consumer
    assert.equal(shown.description, 'two')
    assert.equal(shown.color, 'blue')
    assert.equal((await h.call('PATCH', `${base}/${con.id}`, { body: { consumer: { id: con.id, description: 'three' } } })).statusCode, 200)

    assert.equal((await h.call('DELETE', `${base}/${con.id}`)).statusCode, 204)
    const gone = await h.call('GET', `${base}/${con.id}`)
    assert.equal(gone.statusCode, 404)
    assert.equal(gone.json().error.message, `Could not find consumer: ${con.id}.`)
    assert.equal((await h.call('DELETE', `${base}/${con.id}`)).statusCode, 404)
    assert.equal((await h.call('PATCH', `${base}/${con.id}`, { body: { consumer: { description: 'x' } } })).statusCode, 404)
  })

  it('rejects bad input and changes nothing', async () => {
    const con = (await create({ description: 'keep' })).json().consumer
    const hashBefore = (await h.identity.ctx.db.selectFrom('consumers').select('secret_hash').where('id', '=', con.id).executeTakeFirstOrThrow()).secret_hash
    const secret = await h.call('PATCH', `${base}/${con.id}`, { body: { consumer: { secret: 'new', description: 'changed' } } })
    assert.equal(secret.statusCode, 400)
    assert.equal((await h.call('PATCH', `${base}/${con.id}`, { body: { consumer: {} } })).statusCode, 400)
    assert.equal((await h.call('PATCH', `${base}/${con.id}`, { body: { consumer: { description: 5 } } })).statusCode, 400)
    const idc = await h.call('PATCH', `${base}/${con.id}`, { body: { consumer: { id: 'other' } } })
    assert.equal(idc.statusCode, 400)
    assert.match(idc.json().error.message, /Cannot change ID/)
    const after1 = await h.identity.ctx.db.selectFrom('consumers').selectAll().where('id', '=', con.id).executeTakeFirstOrThrow()
    assert.equal(after1.description, 'keep')
    assert.equal(after1.secret_hash, hashBefore)

    const count = (await h.call('GET', base)).json().consumers.length
    assert.equal((await create({ description: 42 })).statusCode, 400)
    assert.equal((await h.call('POST', base, { body: { consumer: 'x' } })).statusCode, 400)
    assert.equal((await h.call('POST', base, { body: '{bad json' })).statusCode, 400)
    assert.equal((await h.call('GET', base)).json().consumers.length, count)
  })

  it('does not route the OAuth1 token flow', async () => {
    assert.equal((await h.call('POST', '/v3/OS-OAUTH1/request_token')).statusCode, 404)
    assert.equal((await h.call('POST', '/v3/OS-OAUTH1/access_token')).statusCode, 404)
  })

  it('lets only admins write, and admins or system readers read', async () => {
    const con = (await create({ description: 'rbac' })).json().consumer
    for (const token of [t.member, t.reader, t.systemReader]) {
      assert.equal((await h.call('POST', base, { token, body: { consumer: { description: 'x' } } })).statusCode, 403)
      assert.equal((await h.call('PATCH', `${base}/${con.id}`, { token, body: { consumer: { description: 'x' } } })).statusCode, 403)
      assert.equal((await h.call('DELETE', `${base}/${con.id}`, { token })).statusCode, 403)
    }
    for (const token of [t.member, t.reader]) {
      assert.equal((await h.call('GET', base, { token })).statusCode, 403)
      assert.equal((await h.call('GET', `${base}/${con.id}`, { token })).statusCode, 403)
    }
    assert.equal((await h.call('GET', base, { token: t.systemReader })).statusCode, 200)
    assert.equal((await h.call('GET', `${base}/${con.id}`, { token: t.systemReader })).json().consumer.description, 'rbac')
  })
})
