import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { type ImageHarness, imageHarness } from '../testing.ts'

describe('/v2/metadefs', () => {
  let h: ImageHarness
  before(async () => { h = await imageHarness() })
  after(async () => { await h.close() })
  const ns = () => `ns-${randomUUID().slice(0, 8)}`
  const base = (n: string) => `/v2/metadefs/namespaces/${n}`

  test('resource types are seeded and associations come and go', async () => {
    const types = (await h.json('GET', '/v2/metadefs/resource_types')).body.resource_types
    assert.ok(types.some((t: { name: string }) => t.name === 'OS::Glance::Image'))
    const n = ns()
    assert.equal((await h.json('POST', '/v2/metadefs/namespaces', { body: { namespace: n } })).status, 201)
    const a = await h.json('POST', `${base(n)}/resource_types`, { body: { name: 'OS::Nova::Flavor', prefix: 'hw:' } })
    assert.equal(a.status, 201, JSON.stringify(a.body))
    assert.equal(a.body.prefix, 'hw:')
    assert.equal((await h.json('POST', `${base(n)}/resource_types`, { body: { name: 'OS::Nova::Flavor' } })).status, 409)
    const listed = (await h.json('GET', `${base(n)}/resource_types`)).body.resource_type_associations
    assert.deepEqual(listed.map((x: { name: string }) => x.name), ['OS::Nova::Flavor'])
    assert.equal((await h.call('DELETE', `${base(n)}/resource_types/OS::Nova::Flavor`)).statusCode, 204)
    assert.equal((await h.call('DELETE', `${base(n)}/resource_types/OS::Nova::Flavor`)).statusCode, 404)
  })

  test('namespaces: create with contents, show, update, protected, visibility, delete', async () => {
    const n = ns()
    const c = await h.json('POST', '/v2/metadefs/namespaces', { body: { namespace: n, display_name: 'D', visibility: 'public',
      protected: true, resource_type_associations: [{ name: 'OS::Glance::Image' }],
      properties: { hw_x: { title: 'X', type: 'string', enum: ['a', 'b'] } },
      objects: [{ name: 'obj', properties: { p: { title: 'P', type: 'integer' } } }], tags: [{ name: 't1' }] } })
    assert.equal(c.status, 201, JSON.stringify(c.body))
    assert.equal(c.body.self, `/v2/metadefs/namespaces/${n}`)
    assert.equal(c.body.schema, '/v2/schemas/metadefs/namespace')
    const shown = (await h.json('GET', base(n))).body
    assert.equal(shown.visibility, 'public')
    assert.deepEqual(shown.properties.hw_x, { title: 'X', type: 'string', enum: ['a', 'b'] })
    assert.equal(shown.objects[0].name, 'obj')
    assert.deepEqual(shown.tags, [{ name: 't1' }])
    assert.equal(shown.resource_type_associations[0].name, 'OS::Glance::Image')
    assert.ok((await h.json('GET', '/v2/metadefs/namespaces')).body.namespaces.some((x: { namespace: string }) => x.namespace === n))
    assert.equal((await h.json('POST', '/v2/metadefs/namespaces', { body: { namespace: n } })).status, 409)
    const prot = await h.json('DELETE', base(n))
    assert.equal(prot.status, 403)
    assert.match(prot.body.message, /protected/)
    // A member of a project reads public namespaces, not private ones, and changes none.
    const u = await h.projectUser()
    assert.equal((await h.json('GET', base(n), { token: u.token })).status, 200)
    assert.equal((await h.json('DELETE', base(n), { token: u.token })).status, 403)
    const up = await h.json('PUT', base(n), { body: { namespace: n, visibility: 'private', protected: false } })
    assert.equal(up.status, 200, JSON.stringify(up.body))
    assert.equal(up.body.protected, false)
    assert.equal((await h.json('GET', base(n), { token: u.token })).status, 404)
    assert.equal((await h.call('DELETE', base(n))).statusCode, 204)
    assert.equal((await h.json('GET', base(n))).status, 404)
  })

  test('bad namespace bodies get 400/403 and create nothing', async () => {
    for (const [body, status] of [[{}, 400], [{ namespace: 'x', bogus: 1 }, 400], [{ namespace: 'x', visibility: 'shared' }, 400],
      [{ namespace: 'x', self: '/y' }, 403], [{ namespace: 'x'.repeat(81) }, 400], [{ namespace: 'x', properties: { p: { type: 'string' } } }, 400]] as const) {
      assert.equal((await h.json('POST', '/v2/metadefs/namespaces', { body })).status, status, JSON.stringify(body))
    }
    assert.equal((await h.json('GET', base('x'))).status, 404)
    const u = await h.projectUser()
    assert.equal((await h.json('POST', '/v2/metadefs/namespaces', { body: { namespace: ns() }, token: u.token })).status, 403)
  })

  test('objects, properties and tags', async () => {
    const n = ns()
    await h.json('POST', '/v2/metadefs/namespaces', { body: { namespace: n } })
    // objects
    const o = await h.json('POST', `${base(n)}/objects`, { body: { name: 'o1', description: 'd', required: ['a'] } })
    assert.equal(o.status, 201, JSON.stringify(o.body))
    assert.equal(o.body.self, `/v2/metadefs/namespaces/${n}/objects/o1`)
    assert.equal((await h.json('POST', `${base(n)}/objects`, { body: { name: 'o1' } })).status, 409)
    const ou = await h.json('PUT', `${base(n)}/objects/o1`, { body: { name: 'o2' } })
    assert.equal(ou.body.name, 'o2')
    assert.equal((await h.json('GET', `${base(n)}/objects/o1`)).status, 404)
    assert.deepEqual((await h.json('GET', `${base(n)}/objects`)).body.objects.map((x: { name: string }) => x.name), ['o2'])
    assert.equal((await h.call('DELETE', `${base(n)}/objects/o2`)).statusCode, 204)
    // properties
    const p = await h.json('POST', `${base(n)}/properties`, { body: { name: 'OS::Glance::Image', title: 'T', type: 'string', enum: ['kvm'] } })
    assert.equal(p.status, 201, JSON.stringify(p.body))
    assert.equal((await h.json('GET', `${base(n)}/properties/OS::Glance::Image`)).body.title, 'T')
    assert.equal((await h.json('PUT', `${base(n)}/properties/OS::Glance::Image`, { body: { name: 'OS::Glance::Image', title: 'T2', type: 'string' } })).body.title, 'T2')
    assert.deepEqual(Object.keys((await h.json('GET', `${base(n)}/properties`)).body.properties), ['OS::Glance::Image'])
    assert.equal((await h.json('POST', `${base(n)}/properties`, { body: { name: 'q', type: 'string' } })).status, 400)
    assert.equal((await h.call('DELETE', `${base(n)}/properties/OS::Glance::Image`)).statusCode, 204)
    // tags
    const t = await h.json('POST', `${base(n)}/tags`, { body: { tags: [{ name: 'a' }, { name: 'b' }] } })
    assert.equal(t.status, 201)
    assert.equal((await h.json('POST', `${base(n)}/tags`, { body: { tags: [{ name: 'x' }, { name: 'x' }] } })).status, 409)
    assert.equal((await h.json('POST', `${base(n)}/tags/c`)).status, 201)
    assert.equal((await h.json('POST', `${base(n)}/tags/c`)).status, 409)
    assert.equal((await h.json('PUT', `${base(n)}/tags/c`, { body: { name: 'd' } })).body.name, 'd')
    assert.deepEqual((await h.json('GET', `${base(n)}/tags`)).body.tags.map((x: { name: string }) => x.name).sort(), ['a', 'b', 'd'])
    assert.equal((await h.call('DELETE', `${base(n)}/tags/d`)).statusCode, 204)
    assert.equal((await h.call('DELETE', `${base(n)}/tags`)).statusCode, 204)
    assert.deepEqual((await h.json('GET', `${base(n)}/tags`)).body.tags, [])
  })
})
