import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { type IdentityHarness, identityHarness } from '../testing.ts'
import { rbacTokens } from '../ext-fixtures.ts'
import { newId } from './common.ts'

describe('/v3/policies', () => {
  let h: IdentityHarness
  let t: Awaited<ReturnType<typeof rbacTokens>>
  before(async () => { h = await identityHarness(); t = await rbacTokens(h) })
  after(async () => { await h.close() })

  const create = async (body: unknown) => h.call('POST', '/v3/policies', { body: { policy: body } })

  it('creates, shows, updates, lists and deletes a policy (the Tempest flow)', async () => {
    const type = `type-${newId()}`
    const r = await create({ blob: '{"a":"b"}', type, 'x-note': 'hi', id: 'ignored' })
    assert.equal(r.statusCode, 201)
    const p = r.json().policy
    assert.equal(p.blob, '{"a":"b"}')
    assert.equal(p.type, type)
    assert.notEqual(p.id, 'ignored')
    assert.equal(p.x_note, 'hi', 'extra attribute kept, normalised as Keystone does')
    assert.match(p.links.self, new RegExp(`/v3/policies/${p.id}$`))

    const shown = (await h.call('GET', `/v3/policies/${p.id}`)).json().policy
    assert.deepEqual(shown, p)

    const newType = `updated-${newId()}`
    const u = await h.call('PATCH', `/v3/policies/${p.id}`, { body: { policy: { type: newType, color: 'red' } } })
    assert.equal(u.statusCode, 200)
    assert.equal(u.json().policy.type, newType)
    assert.equal(u.json().policy.blob, p.blob)
    const after1 = (await h.call('GET', `/v3/policies/${p.id}`)).json().policy
    assert.equal(after1.type, newType)
    assert.equal(after1.x_note, 'hi')
    assert.equal(after1.color, 'red')

    const list = await h.call('GET', '/v3/policies')
    assert.equal(list.statusCode, 200)
    assert.ok(list.json().policies.some((x: { id: string }) => x.id === p.id))
    assert.ok(list.json().links.self.endsWith('/v3/policies'))

    const d = await h.call('DELETE', `/v3/policies/${p.id}`)
    assert.equal(d.statusCode, 204)
    assert.equal(d.body, '')
    const gone = await h.call('GET', `/v3/policies/${p.id}`)
    assert.equal(gone.statusCode, 404)
    assert.equal(gone.json().error.message, `Could not find policy: ${p.id}.`)
    assert.equal((await h.call('DELETE', `/v3/policies/${p.id}`)).statusCode, 404)
  })

  it('filters the list by type', async () => {
    const type = `filter-${newId()}`
    const a = (await create({ blob: 'a', type })).json().policy
    await create({ blob: 'b', type: `other-${newId()}` })
    const r = await h.call('GET', `/v3/policies?type=${type}`)
    assert.deepEqual(r.json().policies.map((x: { id: string }) => x.id), [a.id])
  })

  it('rejects bad input and changes nothing', async () => {
    const before1 = (await h.call('GET', '/v3/policies')).json().policies.length
    for (const body of [{ type: 't' }, { blob: 'b' }, { blob: 1, type: 't' }, { blob: 'b', type: 'x'.repeat(256) }]) {
      const r = await create(body)
      assert.equal(r.statusCode, 400, JSON.stringify(body))
      assert.equal(r.json().error.code, 400)
    }
    assert.equal((await h.call('POST', '/v3/policies', { body: {} })).statusCode, 400)
    assert.equal((await h.call('POST', '/v3/policies', { body: '{"policy": {' })).statusCode, 400)
    assert.equal((await h.call('GET', '/v3/policies')).json().policies.length, before1)

    const p = (await create({ blob: 'b', type: 't' })).json().policy
    assert.equal((await h.call('PATCH', `/v3/policies/${p.id}`, { body: { policy: {} } })).statusCode, 400)
    assert.equal((await h.call('PATCH', `/v3/policies/${p.id}`, { body: { policy: { blob: null } } })).statusCode, 400)
    const idChange = await h.call('PATCH', `/v3/policies/${p.id}`, { body: { policy: { id: 'other', type: 'z' } } })
    assert.equal(idChange.statusCode, 400)
    assert.match(idChange.json().error.message, /Cannot change policy ID/)
    assert.equal((await h.call('GET', `/v3/policies/${p.id}`)).json().policy.type, 't')
    assert.equal((await h.call('PATCH', `/v3/policies/${newId()}`, { body: { policy: { type: 'z' } } })).statusCode, 404)
  })

  it('lets only admins write, and admins or system readers read', async () => {
    const p = (await create({ blob: 'b', type: 't' })).json().policy
    for (const token of [t.member, t.reader, t.systemReader]) {
      assert.equal((await h.call('POST', '/v3/policies', { token, body: { policy: { blob: 'b', type: 't' } } })).statusCode, 403)
      assert.equal((await h.call('PATCH', `/v3/policies/${p.id}`, { token, body: { policy: { type: 'x' } } })).statusCode, 403)
      assert.equal((await h.call('DELETE', `/v3/policies/${p.id}`, { token })).statusCode, 403)
    }
    for (const token of [t.member, t.reader]) {
      assert.equal((await h.call('GET', '/v3/policies', { token })).statusCode, 403)
      assert.equal((await h.call('GET', `/v3/policies/${p.id}`, { token })).statusCode, 403)
    }
    assert.equal((await h.call('GET', '/v3/policies', { token: t.systemReader })).statusCode, 200)
    assert.equal((await h.call('GET', `/v3/policies/${p.id}`, { token: t.systemReader })).statusCode, 200)
    assert.equal((await h.call('GET', '/v3/policies', { token: null })).statusCode, 401)
  })
})
