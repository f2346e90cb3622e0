import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type IdentityHarness, identityHarness } from '../testing.ts'
import { newId } from './common.ts'
import { type Fixture, assertError, json, makeUser } from './cred-test-helpers.ts'

let h: IdentityHarness
let member: Fixture
let reader: Fixture

before(async () => {
  h = await identityHarness()
  member = await makeUser(h, 'member')
  reader = await makeUser(h, 'reader')
})
after(async () => { await h.close() })

const uniq = (p: string) => `${p}-${newId().slice(0, 12)}`

async function createService(body: Record<string, unknown> = {}) {
  return json(await h.call('POST', '/v3/services', { body: { service: { type: uniq('type'), name: uniq('svc'), ...body } } }), 201).service
}
async function createRegion(body: Record<string, unknown> = {}) {
  return json(await h.call('POST', '/v3/regions', { body: { region: body } }), 201).region
}
async function createEndpoint(body: Record<string, unknown>) {
  return json(await h.call('POST', '/v3/endpoints', { body: { endpoint: body } }), 201).endpoint
}

describe('regions', () => {
  test('POST generates an id and keeps extra attributes; GET shows the same', async () => {
    const r = await createRegion({ description: 'first', enabled: true, 'x-color': 'blue' })
    assert.match(r.id, /^[0-9a-f]{32}$/)
    assert.equal(r.description, 'first')
    assert.equal(r.parent_region_id, null)
    assert.equal(r.enabled, true)
    assert.equal(r.x_color, 'blue', 'Keystone normalises - and : in attribute names on create')
    assert.equal(r.links.self, `http://localhost:80/v3/regions/${r.id}`)
    const got = json(await h.call('GET', `/v3/regions/${r.id}`), 200).region
    assert.deepEqual(got, r)
  })

  test('PUT creates with the id given (201); duplicates are 409; ids must agree', async () => {
    const id = uniq('Region')
    const r = json(await h.call('PUT', `/v3/regions/${id}`, { body: { region: { description: 'put' } } }), 201).region
    assert.equal(r.id, id)
    assert.equal(r.description, 'put')
    assertError(await h.call('PUT', `/v3/regions/${id}`, { body: { region: {} } }), 409,
      `Conflict occurred attempting to store region - Duplicate ID, ${id}.`)
    assertError(await h.call('POST', '/v3/regions', { body: { region: { id } } }), 409, /Duplicate ID/)
    assertError(await h.call('PUT', `/v3/regions/${uniq('other')}`, { body: { region: { id: 'x' } } }), 400,
      /^Conflicting region IDs specified/)
    // POST with an id uses it; with "" one is generated.
    const id2 = uniq('Posted')
    assert.equal(json(await h.call('POST', '/v3/regions', { body: { region: { id: id2 } } }), 201).region.id, id2)
    assert.match(json(await h.call('POST', '/v3/regions', { body: { region: { id: '' } } }), 201).region.id, /^[0-9a-f]{32}$/)
    // description null is stored as ''
    assert.equal(json(await h.call('POST', '/v3/regions', { body: { region: { description: null } } }), 201).region.description, '')
  })

  test('parents must exist; the list filters by parent_region_id', async () => {
    const parent = await createRegion()
    assertError(await h.call('POST', '/v3/regions', { body: { region: { parent_region_id: 'no-such-region' } } }), 404,
      'Could not find region: no-such-region.')
    const a = await createRegion({ parent_region_id: parent.id })
    const b = await createRegion({ parent_region_id: parent.id })
    assert.equal(a.parent_region_id, parent.id)
    const list = json(await h.call('GET', `/v3/regions?parent_region_id=${parent.id}`), 200)
    assert.deepEqual(list.regions.map((r: any) => r.id).sort(), [a.id, b.id].sort())
    assert.ok(list.regions.some((r: any) => JSON.stringify(r) === JSON.stringify(a)))
    assert.equal(list.links.self, `http://localhost:80/v3/regions?parent_region_id=${parent.id}`)
    const all = json(await h.call('GET', '/v3/regions'), 200).regions.map((r: any) => r.id)
    assert.ok(all.includes('RegionOne') && all.includes(parent.id) && all.includes(a.id))
    assertError(await h.call('GET', '/v3/regions?color=red'), 400)
  })

  test('PATCH updates description, parent and extra; refuses cycles, bad ids and empty bodies', async () => {
    const p1 = await createRegion()
    const p2 = await createRegion()
    const r = await createRegion({ description: 'old', parent_region_id: p1.id, tier: 1 })
    const u = json(await h.call('PATCH', `/v3/regions/${r.id}`, { body: { region: { description: 'new', parent_region_id: p2.id, tier: 2 } } }), 200).region
    assert.equal(u.description, 'new')
    assert.equal(u.parent_region_id, p2.id)
    assert.equal(u.tier, 2)
    assert.deepEqual(json(await h.call('GET', `/v3/regions/${r.id}`), 200).region, u)
    // Cycles: p2 -> r would make r -> p2 -> r; a region cannot be its own parent.
    assertError(await h.call('PATCH', `/v3/regions/${p2.id}`, { body: { region: { parent_region_id: r.id } } }), 400,
      `The specified parent region ${r.id} would create a circular region hierarchy.`)
    assertError(await h.call('PATCH', `/v3/regions/${r.id}`, { body: { region: { parent_region_id: r.id } } }), 400, /circular/)
    assertError(await h.call('PATCH', `/v3/regions/${r.id}`, { body: { region: { parent_region_id: 'missing' } } }), 404,
      'Could not find region: missing.')
    assertError(await h.call('PATCH', `/v3/regions/${r.id}`, { body: { region: { id: 'other' } } }), 400, 'Cannot change ID')
    assertError(await h.call('PATCH', `/v3/regions/${r.id}`, { body: { region: {} } }), 400)
    assertError(await h.call('PATCH', `/v3/regions/${r.id}`, { body: { region: { description: 5 } } }), 400)
    assertError(await h.call('PATCH', `/v3/regions/${r.id}`, { body: { region: { description: 'x' }, other: 1 } }), 400, /other/)
    assertError(await h.call('PATCH', '/v3/regions/missing', { body: { region: { description: 'x' } } }), 404, 'Could not find region: missing.')
    // Detaching from the parent, and null description.
    const d = json(await h.call('PATCH', `/v3/regions/${r.id}`, { body: { region: { parent_region_id: null, description: null } } }), 200).region
    assert.equal(d.parent_region_id, null)
    assert.equal(d.description, '')
    // Nothing changed by the refused requests.
    assert.equal(json(await h.call('GET', `/v3/regions/${p2.id}`), 200).region.parent_region_id, null)
  })

  test('malformed JSON and wrong types are 400', async () => {
    assertError(await h.call('POST', '/v3/regions', { body: '{"region": ' }), 400, /not valid JSON/)
    assertError(await h.call('POST', '/v3/regions', { body: { region: { description: ['x'] } } }), 400)
    assertError(await h.call('POST', '/v3/regions', { body: { region: 'x' } }), 400)
    assertError(await h.call('POST', '/v3/regions', { body: {} }), 400)
    assertError(await h.call('POST', '/v3/regions', { body: { region: { parent_region_id: '' } } }), 400)
  })

  test('DELETE removes child regions too, unless one of them has endpoints (403)', async () => {
    const top = await createRegion()
    const child = await createRegion({ parent_region_id: top.id })
    const grandchild = await createRegion({ parent_region_id: child.id })
    const svc = await createService()
    const ep = await createEndpoint({ service_id: svc.id, interface: 'public', url: 'http://x.example:1/', region_id: grandchild.id })
    assertError(await h.call('DELETE', `/v3/regions/${top.id}`), 403,
      `Unable to delete region ${top.id} because it or its child regions have associated endpoints.`)
    json(await h.call('GET', `/v3/regions/${child.id}`), 200)
    json(await h.call('DELETE', `/v3/endpoints/${ep.id}`), 204)
    const before = h.identity.ctx.generation
    assert.equal((await h.call('DELETE', `/v3/regions/${top.id}`)).statusCode, 204)
    assert.ok(h.identity.ctx.generation > before, 'catalog writes bump the generation')
    for (const id of [top.id, child.id, grandchild.id]) assertError(await h.call('GET', `/v3/regions/${id}`), 404, `Could not find region: ${id}.`)
    assertError(await h.call('DELETE', `/v3/regions/${top.id}`), 404)
  })

  test('RBAC: anyone reads regions; only admins write them', async () => {
    const r = await createRegion()
    for (const f of [member, reader]) {
      json(await h.call('GET', '/v3/regions', { token: f.token }), 200)
      json(await h.call('GET', `/v3/regions/${r.id}`, { token: f.token }), 200)
      assertError(await h.call('POST', '/v3/regions', { token: f.token, body: { region: {} } }), 403,
        'You are not authorized to perform the requested action: identity:create_region.')
      assertError(await h.call('PUT', `/v3/regions/${uniq('r')}`, { token: f.token, body: { region: {} } }), 403)
      assertError(await h.call('PATCH', `/v3/regions/${r.id}`, { token: f.token, body: { region: { description: 'x' } } }), 403)
      assertError(await h.call('DELETE', `/v3/regions/${r.id}`, { token: f.token }), 403)
    }
    assertError(await h.call('GET', '/v3/regions', { token: null }), 401)
    assert.equal(json(await h.call('GET', `/v3/regions/${r.id}`), 200).region.description, '')
  })
})

describe('services', () => {
  test('create, show, list with filters, update, delete', async () => {
    const type = uniq('type')
    const s = json(await h.call('POST', '/v3/services', { body: { service: { type, name: 'svc-a', description: 'A', custom: 'x' } } }), 201).service
    assert.match(s.id, /^[0-9a-f]{32}$/)
    assert.deepEqual({ type: s.type, name: s.name, description: s.description, enabled: s.enabled, custom: s.custom },
      { type, name: 'svc-a', description: 'A', enabled: true, custom: 'x' })
    assert.equal(s.links.self, `http://localhost:80/v3/services/${s.id}`)
    assert.deepEqual(json(await h.call('GET', `/v3/services/${s.id}`), 200).service, s)
    const t2 = json(await h.call('POST', '/v3/services', { body: { service: { type, name: 'svc-b' } } }), 201).service
    const other = await createService()
    const byType = json(await h.call('GET', `/v3/services?type=${type}`), 200).services
    assert.deepEqual(byType.map((x: any) => x.id).sort(), [s.id, t2.id].sort())
    const byName = json(await h.call('GET', `/v3/services?type=${type}&name=svc-b`), 200).services
    assert.deepEqual(byName.map((x: any) => x.id), [t2.id])
    const all = json(await h.call('GET', '/v3/services'), 200).services.map((x: any) => x.id)
    assert.ok(all.includes(other.id) && all.includes(s.id))
    assert.ok(json(await h.call('GET', '/v3/services'), 200).services.some((x: any) => x.type === 'identity'))

    const u = json(await h.call('PATCH', `/v3/services/${s.id}`, { body: { service: { description: 'B', enabled: false, more: 1 } } }), 200).service
    assert.equal(u.description, 'B')
    assert.equal(u.enabled, false)
    assert.equal(u.custom, 'x')
    assert.equal(u.more, 1)
    assert.deepEqual(json(await h.call('GET', `/v3/services/${s.id}`), 200).service, u)
    // Without description or name: name defaults to ''.
    const bare = json(await h.call('POST', '/v3/services', { body: { service: { type: uniq('t') } } }), 201).service
    assert.equal(bare.name, '')
    assert.equal(bare.enabled, true)

    assert.equal((await h.call('DELETE', `/v3/services/${s.id}`)).statusCode, 204)
    assertError(await h.call('GET', `/v3/services/${s.id}`), 404, `Could not find service: ${s.id}.`)
    assertError(await h.call('DELETE', `/v3/services/${s.id}`), 404)
    assertError(await h.call('PATCH', `/v3/services/${s.id}`, { body: { service: { name: 'x' } } }), 404)
  })

  test('bad input is 400 and changes nothing', async () => {
    assertError(await h.call('POST', '/v3/services', { body: { service: { name: 'no-type' } } }), 400)
    assertError(await h.call('POST', '/v3/services', { body: { service: { type: '' } } }), 400)
    assertError(await h.call('POST', '/v3/services', { body: { service: { type: 't', enabled: 'True' } } }), 400)
    assertError(await h.call('POST', '/v3/services', { body: { service: { type: 't', name: 7 } } }), 400)
    assertError(await h.call('POST', '/v3/services', { body: '{' }), 400)
    const s = await createService()
    assertError(await h.call('PATCH', `/v3/services/${s.id}`, { body: { service: {} } }), 400)
    assertError(await h.call('PATCH', `/v3/services/${s.id}`, { body: { service: { enabled: 'False' } } }), 400)
    assertError(await h.call('PATCH', `/v3/services/${s.id}`, { body: { service: { id: 'other' } } }), 400, 'Cannot change ID')
    assert.deepEqual(json(await h.call('GET', `/v3/services/${s.id}`), 200).service, s)
  })

  test('deleting a service deletes its endpoints', async () => {
    const s = await createService()
    const e1 = await createEndpoint({ service_id: s.id, interface: 'public', url: 'http://a.example/' })
    const e2 = await createEndpoint({ service_id: s.id, interface: 'admin', url: 'http://b.example/' })
    const keep = await createEndpoint({ service_id: (await createService()).id, interface: 'public', url: 'http://c.example/' })
    assert.equal((await h.call('DELETE', `/v3/services/${s.id}`)).statusCode, 204)
    for (const e of [e1, e2]) assertError(await h.call('GET', `/v3/endpoints/${e.id}`), 404, `Could not find endpoint: ${e.id}.`)
    json(await h.call('GET', `/v3/endpoints/${keep.id}`), 200)
  })

  test('RBAC: members and project readers may not read or write services', async () => {
    const s = await createService()
    for (const f of [member, reader]) {
      assertError(await h.call('GET', '/v3/services', { token: f.token }), 403)
      assertError(await h.call('GET', `/v3/services/${s.id}`, { token: f.token }), 403)
      assertError(await h.call('POST', '/v3/services', { token: f.token, body: { service: { type: 'x' } } }), 403)
      assertError(await h.call('PATCH', `/v3/services/${s.id}`, { token: f.token, body: { service: { name: 'x' } } }), 403)
      assertError(await h.call('DELETE', `/v3/services/${s.id}`, { token: f.token }), 403)
    }
    json(await h.call('GET', `/v3/services/${s.id}`), 200)
  })
})

describe('endpoints', () => {
  test('the legacy region attribute creates its region; region and region_id are shown', async () => {
    const s = await createService()
    const region = uniq('legacy')
    const e = await createEndpoint({ service_id: s.id, interface: 'public', url: 'http://legacy.example:8080/v1', region, enabled: true })
    assert.equal(e.region, region)
    assert.equal(e.region_id, region)
    assert.equal(e.enabled, true)
    assert.equal(e.interface, 'public')
    assert.equal(e.service_id, s.id)
    assert.equal(e.url, 'http://legacy.example:8080/v1')
    assert.equal(e.links.self, `http://localhost:80/v3/endpoints/${e.id}`)
    assert.equal(json(await h.call('GET', `/v3/regions/${region}`), 200).region.id, region)
    assert.deepEqual(json(await h.call('GET', `/v3/endpoints/${e.id}`), 200).endpoint, e)
    // An existing region given the legacy way is used as is.
    const e2 = await createEndpoint({ service_id: s.id, interface: 'internal', url: 'http://l.example/', region })
    assert.equal(e2.region_id, region)
    // No region at all is fine.
    assert.equal((await createEndpoint({ service_id: s.id, interface: 'admin', url: 'http://l.example/' })).region_id, null)
  })

  test('region_id and service_id must exist (400); nothing is created on failure', async () => {
    const s = await createService()
    assertError(await h.call('POST', '/v3/endpoints', { body: { endpoint: { service_id: s.id, interface: 'public', url: 'http://x.example/', region_id: 'nope' } } }),
      400, 'Expecting to find endpoint region_id in region table. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.')
    const region = uniq('never')
    assertError(await h.call('POST', '/v3/endpoints', { body: { endpoint: { service_id: 'nope', interface: 'public', url: 'http://x.example/', region } } }),
      400, /^Expecting to find endpoint service_id in service table/)
    assertError(await h.call('GET', `/v3/regions/${region}`), 404)
    const count = json(await h.call('GET', `/v3/endpoints?service_id=${s.id}`), 200).endpoints.length
    assert.equal(count, 0)
  })

  test('schema and URL validation', async () => {
    const s = await createService()
    const base = { service_id: s.id, interface: 'public', url: 'http://ok.example/' }
    const bad = async (endpoint: Record<string, unknown>, msg?: RegExp | string) =>
      assertError(await h.call('POST', '/v3/endpoints', { body: { endpoint } }), 400, msg)
    await bad({ ...base, interface: 'private' })
    await bad({ ...base, url: undefined })
    await bad({ ...base, service_id: undefined })
    await bad({ ...base, interface: undefined })
    await bad({ ...base, url: 'not a url' })
    await bad({ ...base, url: 'http://' + 'x'.repeat(230) })
    await bad({ ...base, enabled: 'False' })
    await bad({ ...base, enabled: 'True' })
    await bad({ ...base, url: 'http://x.example/$(bogus)s' }, 'Cannot create an endpoint with an invalid URL: http://x.example/$(bogus)s.')
    await bad({ ...base, url: 'http://x.example/%(project_id)d' }, /invalid URL/)
    await bad({ ...base, url: 'http://x.example/a%20b' }, /invalid URL/)
    assertError(await h.call('POST', '/v3/endpoints', { body: { endpoint: base, extra: 1 } }), 400, /extra/)
    assertError(await h.call('POST', '/v3/endpoints', { body: '{"endpoint": [' }), 400)
    // Substitutions Keystone allows, and %% escapes.
    for (const url of ['http://x.example/v2/$(tenant_id)s', 'http://x.example/v1/AUTH_%(project_id)s', 'http://x.example/%%']) {
      assert.equal((await createEndpoint({ ...base, url })).url, url)
    }
    // Extra attributes (name, description, anything) are kept.
    const e = await createEndpoint({ ...base, name: 'n', description: 'd', weight: 3 })
    assert.deepEqual([e.name, e.description, e.weight], ['n', 'd', 3])
  })

  test('list filters: interface, service_id, region_id', async () => {
    const s1 = await createService()
    const s2 = await createService()
    const r = await createRegion()
    const a = await createEndpoint({ service_id: s1.id, interface: 'public', url: 'http://a.example/', region_id: r.id })
    const b = await createEndpoint({ service_id: s2.id, interface: 'internal', url: 'http://b.example/', region_id: r.id })
    const ids = async (q: string) => json(await h.call('GET', `/v3/endpoints${q}`), 200).endpoints.map((e: any) => e.id).sort()
    assert.deepEqual(await ids(`?service_id=${s1.id}`), [a.id])
    assert.deepEqual(await ids(`?service_id=${s2.id}`), [b.id])
    assert.deepEqual(await ids(`?region_id=${r.id}`), [a.id, b.id].sort())
    assert.deepEqual(await ids(`?region_id=${r.id}&interface=internal`), [b.id])
    assert.ok((await ids('?interface=public')).includes(a.id))
    assert.ok(!(await ids('?interface=public')).includes(b.id))
    assertError(await h.call('GET', '/v3/endpoints?interface=bogus'), 400)
  })

  test('PATCH updates every attribute, checks references, and shows in the token catalog', async () => {
    const s1 = await createService()
    const s2 = await createService({ type: uniq('moved') })
    const e = await createEndpoint({ service_id: s1.id, interface: 'public', url: 'http://one.example/', region: uniq('r1') })
    const region2 = uniq('r2')
    const u = json(await h.call('PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: {
      service_id: s2.id, interface: 'internal', url: 'http://two.example/', region: region2, enabled: false, note: 'n' } } }), 200).endpoint
    assert.deepEqual([u.service_id, u.interface, u.url, u.region, u.region_id, u.enabled, u.note],
      [s2.id, 'internal', 'http://two.example/', region2, region2, false, 'n'])
    json(await h.call('GET', `/v3/regions/${region2}`), 200)
    assert.deepEqual(json(await h.call('GET', `/v3/endpoints/${e.id}`), 200).endpoint, u)
    assertError(await h.call('PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: { enabled: 'True' } } }), 400)
    assertError(await h.call('PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: { service_id: 'nope' } } }), 400, /service_id in service table/)
    assertError(await h.call('PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: { region_id: 'nope' } } }), 400, /region_id in region table/)
    assertError(await h.call('PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: { interface: 'x' } } }), 400)
    assertError(await h.call('PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: { url: 'http://x/$(nope)s' } } }), 400, /invalid URL/)
    assertError(await h.call('PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: { id: 'other' } } }), 400, 'Cannot change ID')
    assertError(await h.call('PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: {} } }), 400)
    assertError(await h.call('PATCH', '/v3/endpoints/nope', { body: { endpoint: { enabled: true } } }), 404, 'Could not find endpoint: nope.')
    assert.deepEqual(json(await h.call('GET', `/v3/endpoints/${e.id}`), 200).endpoint, u)

    // The token catalog follows the writes at once (it is cached per generation).
    const catalog = async () => json(await h.call('GET', '/v3/auth/catalog'), 200).catalog
    const find = async () => (await catalog()).find((x: any) => x.id === s2.id)
    assert.equal((await find()).endpoints.length, 0, 'disabled endpoints are not in the catalog')
    json(await h.call('PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: { enabled: true, region_id: null } } }), 200)
    const entry = await find()
    assert.deepEqual(entry.endpoints.map((x: any) => [x.id, x.url, x.region_id]), [[e.id, 'http://two.example/', null]])
    json(await h.call('PATCH', `/v3/services/${s2.id}`, { body: { service: { enabled: false } } }), 200)
    assert.equal(await find(), undefined, 'disabled services are not in the catalog')
    json(await h.call('PATCH', `/v3/services/${s2.id}`, { body: { service: { enabled: true } } }), 200)
    assert.equal((await find()).type, s2.type)
    // The token body carries it too.
    const issued = await h.call('POST', '/v3/auth/tokens', { token: null, body: { auth: {
      identity: { methods: ['password'], password: { user: { id: h.adminUserId, password: 'admin-secret' } } },
      scope: { project: { id: h.adminProjectId } } } } })
    assert.ok(json(issued, 201).token.catalog.some((x: any) => x.id === s2.id))
    assert.equal((await h.call('DELETE', `/v3/endpoints/${e.id}`)).statusCode, 204)
    assert.equal((await find()).endpoints.length, 0)
    assertError(await h.call('DELETE', `/v3/endpoints/${e.id}`), 404)
  })

  test('RBAC: members and project readers may not read or write endpoints', async () => {
    const s = await createService()
    const e = await createEndpoint({ service_id: s.id, interface: 'public', url: 'http://rbac.example/' })
    for (const f of [member, reader]) {
      assertError(await h.call('GET', '/v3/endpoints', { token: f.token }), 403)
      assertError(await h.call('GET', `/v3/endpoints/${e.id}`, { token: f.token }), 403)
      assertError(await h.call('POST', '/v3/endpoints', { token: f.token, body: { endpoint: { service_id: s.id, interface: 'public', url: 'http://x.example/' } } }), 403)
      assertError(await h.call('PATCH', `/v3/endpoints/${e.id}`, { token: f.token, body: { endpoint: { enabled: false } } }), 403)
      assertError(await h.call('DELETE', `/v3/endpoints/${e.id}`, { token: f.token }), 403)
    }
    assert.equal(json(await h.call('GET', `/v3/endpoints/${e.id}`), 200).endpoint.enabled, true)
  })
})
