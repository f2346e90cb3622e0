import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type ComputeHarness, computeHarness } from '../testing.ts'

describe('flavors', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
  })
  after(async () => { await h.close() })

  const create = (flavor: Record<string, unknown>, version?: string) => h.json('POST', '/v2.1/flavors', { body: { flavor }, version })

  test('create (given and generated ids), show, list, detail, delete', async () => {
    let r = await create({ name: 'f.tiny', id: 'tiny', ram: 512, vcpus: 1, disk: 1 })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(Object.keys(r.body.flavor).sort(), ['OS-FLV-DISABLED:disabled', 'OS-FLV-EXT-DATA:ephemeral', 'disk', 'id',
      'links', 'name', 'os-flavor-access:is_public', 'ram', 'rxtx_factor', 'swap', 'vcpus'])
    assert.equal(r.body.flavor.swap, '')
    assert.equal(r.body.flavor.rxtx_factor, 1)
    assert.equal(r.body.flavor.links[0].href, 'http://localhost:80/v2.1/flavors/tiny')
    r = await create({ name: 'f.auto', ram: '1024', vcpus: 2, disk: 10, swap: 512, 'OS-FLV-EXT-DATA:ephemeral': 5, rxtx_factor: 2.5 })
    assert.equal(r.status, 200)
    const auto = r.body.flavor
    assert.match(auto.id, /^[0-9a-f-]{36}$/)
    assert.equal(auto.ram, 1024)
    assert.equal(auto.swap, 512)
    r = await create({ name: 'f.int', id: 4242, ram: 64, vcpus: 1, disk: 0 })
    assert.equal(r.body.flavor.id, '4242')

    r = await h.json('GET', '/v2.1/flavors/tiny', { token: member.token })
    assert.equal(r.status, 200)
    assert.equal(r.body.flavor.ram, 512)
    r = await h.json('GET', '/v2.1/flavors', { token: member.token })
    assert.deepEqual(r.body.flavors.map((f: any) => f.id).sort(), ['4242', auto.id, 'tiny'].sort())
    assert.deepEqual(Object.keys(r.body.flavors[0]).sort(), ['id', 'links', 'name'])
    r = await h.json('GET', '/v2.1/flavors/detail?minRam=1000')
    assert.deepEqual(r.body.flavors.map((f: any) => f.name), ['f.auto'])
    r = await h.json('GET', '/v2.1/flavors/detail?minDisk=1&sort_key=memory_mb&sort_dir=desc')
    assert.deepEqual(r.body.flavors.map((f: any) => f.name), ['f.auto', 'f.tiny'])

    r = await h.json('DELETE', '/v2.1/flavors/4242')
    assert.equal(r.status, 202)
    r = await h.json('GET', '/v2.1/flavors/4242')
    assert.equal(r.status, 404)
    assert.equal(r.body.itemNotFound.message, 'Flavor 4242 could not be found.')
    assert.equal((await h.json('DELETE', '/v2.1/flavors/4242')).status, 404)
  })

  test('marker and limit page with flavors_links', async () => {
    for (const n of ['p1', 'p2', 'p3']) await create({ name: `page-${n}`, id: `page-${n}`, ram: 64, vcpus: 1, disk: 0 })
    let r = await h.json('GET', '/v2.1/flavors?limit=2&marker=page-p1')
    assert.deepEqual(r.body.flavors.map((f: any) => f.id), ['page-p2', 'page-p3'])
    assert.match(r.body.flavors_links[0].href, /\/v2\.1\/flavors\?limit=2&marker=page-p3$/)
    r = await h.json('GET', '/v2.1/flavors?marker=nope')
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'marker [nope] not found')
    r = await h.json('GET', '/v2.1/flavors?limit=-1')
    assert.equal(r.status, 400)
  })

  test('duplicates conflict; bad input is a 400 and creates nothing', async () => {
    await create({ name: 'dup', id: 'dup', ram: 64, vcpus: 1, disk: 0 })
    let r = await create({ name: 'dup', ram: 64, vcpus: 1, disk: 0 })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, 'Flavor with name dup already exists.')
    r = await create({ name: 'dup2', id: 'dup', ram: 64, vcpus: 1, disk: 0 })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, 'Flavor with ID dup already exists.')
    const before = (await h.json('GET', '/v2.1/flavors?is_public=none')).body.flavors.length
    for (const bad of [
      { name: 'b1', ram: -1, vcpus: 1, disk: 0 }, { name: 'b2', ram: 64, vcpus: 0, disk: 0 },
      { name: 'b3', ram: 64, vcpus: 1, disk: -1 }, { name: ' b4', ram: 64, vcpus: 1, disk: 0 },
      { name: 'b5', ram: 64, vcpus: 1 }, { name: 'b6', ram: 64, vcpus: 1, disk: 0, bogus: 1 },
      { name: 'b7', ram: 'abc', vcpus: 1, disk: 0 }, { name: 'b8', ram: 64, vcpus: 1, disk: 0, rxtx_factor: 0 },
      { name: 'b9', ram: 64, vcpus: 1, disk: 0, description: 'only from 2.55' },
      { name: 'b10', ram: 64, vcpus: 1, disk: 0, 'os-flavor-access:is_public': 'maybe' },
    ]) {
      r = await create(bad)
      assert.equal(r.status, 400, JSON.stringify(bad))
      assert.ok(r.body.badRequest.message, JSON.stringify(r.body))
    }
    r = await h.json('POST', '/v2.1/flavors', { body: '{not json' })
    assert.equal(r.status, 400)
    assert.equal((await h.json('GET', '/v2.1/flavors?is_public=none')).body.flavors.length, before)
  })

  test('a member cannot create, update or delete flavors', async () => {
    let r = await h.json('POST', '/v2.1/flavors', { token: member.token, body: { flavor: { name: 'mine', ram: 64, vcpus: 1, disk: 0 } } })
    assert.equal(r.status, 403)
    assert.ok(r.body.forbidden)
    r = await h.json('DELETE', '/v2.1/flavors/tiny', { token: member.token })
    assert.equal(r.status, 403)
    r = await h.json('POST', '/v2.1/flavors/tiny/os-extra_specs', { token: member.token, body: { extra_specs: { a: 'b' } } })
    assert.equal(r.status, 403)
    assert.equal((await h.json('GET', '/v2.1/flavors?is_public=none')).body.flavors.some((f: any) => f.name === 'mine'), false)
  })

  test('description (2.55), extra_specs in the body (2.61), swap 0 and strict queries (2.75)', async () => {
    let r = await create({ name: 'described', id: 'described', ram: 64, vcpus: 1, disk: 0, description: 'small' }, '2.55')
    assert.equal(r.body.flavor.description, 'small')
    r = await h.json('PUT', '/v2.1/flavors/described', { version: '2.55', body: { flavor: { description: 'tiny one' } } })
    assert.equal(r.status, 200)
    assert.equal(r.body.flavor.description, 'tiny one')
    r = await h.json('PUT', '/v2.1/flavors/described', { body: { flavor: { description: 'x' } } })
    assert.equal(r.status, 405)
    r = await h.json('PUT', '/v2.1/flavors/described', { version: '2.55', body: { flavor: { name: 'x' } } })
    assert.equal(r.status, 400)
    await h.json('POST', '/v2.1/flavors/described/os-extra_specs', { body: { extra_specs: { 'hw:cpu_policy': 'dedicated' } } })
    r = await h.json('GET', '/v2.1/flavors/described', { version: '2.61' })
    assert.deepEqual(r.body.flavor.extra_specs, { 'hw:cpu_policy': 'dedicated' })
    assert.equal(r.body.flavor.swap, '')
    r = await h.json('GET', '/v2.1/flavors/described', { version: '2.55' })
    assert.equal(r.body.flavor.extra_specs, undefined)
    r = await h.json('GET', '/v2.1/flavors/described', { version: '2.75' })
    assert.equal(r.body.flavor.swap, 0)
    r = await h.json('GET', '/v2.1/flavors/detail?foo=1', { version: '2.75' })
    assert.equal(r.status, 400)
    r = await h.json('GET', '/v2.1/flavors/detail?foo=1', { version: '2.74' })
    assert.equal(r.status, 200)
  })

  test('extra specs CRUD', async () => {
    await create({ name: 'specs', id: 'specs', ram: 64, vcpus: 1, disk: 0 })
    let r = await h.json('POST', '/v2.1/flavors/specs/os-extra_specs', { body: { extra_specs: { 'hw:numa_nodes': 2, 'trait:X': 'required' } } })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.extra_specs, { 'hw:numa_nodes': 2, 'trait:X': 'required' })
    r = await h.json('GET', '/v2.1/flavors/specs/os-extra_specs', { token: member.token })
    assert.deepEqual(r.body.extra_specs, { 'hw:numa_nodes': '2', 'trait:X': 'required' })
    r = await h.json('PUT', '/v2.1/flavors/specs/os-extra_specs/trait:X', { body: { 'trait:X': 'forbidden' } })
    assert.deepEqual(r.body, { 'trait:X': 'forbidden' })
    r = await h.json('PUT', '/v2.1/flavors/specs/os-extra_specs/trait:X', { body: { other: 'x' } })
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'Request body and URI mismatch')
    r = await h.json('GET', '/v2.1/flavors/specs/os-extra_specs/trait:X')
    assert.deepEqual(r.body, { 'trait:X': 'forbidden' })
    r = await h.json('DELETE', '/v2.1/flavors/specs/os-extra_specs/trait:X')
    assert.equal(r.status, 200)
    r = await h.json('GET', '/v2.1/flavors/specs/os-extra_specs/trait:X')
    assert.equal(r.status, 404)
    r = await h.json('POST', '/v2.1/flavors/specs/os-extra_specs', { body: { extra_specs: { 'bad/key': 'x' } } })
    assert.equal(r.status, 400)
    r = await h.json('POST', '/v2.1/flavors/nope/os-extra_specs', { body: { extra_specs: { a: 'x' } } })
    assert.equal(r.status, 404)
  })

  test('private flavors: access list, add/remove tenant access, visibility', async () => {
    await create({ name: 'private', id: 'private', ram: 64, vcpus: 1, disk: 0, 'os-flavor-access:is_public': false })
    const seen = async () => (await h.json('GET', '/v2.1/flavors/detail', { token: member.token })).body.flavors.map((f: any) => f.id)
    assert.equal((await seen()).includes('private'), false)
    let r = await h.json('GET', '/v2.1/flavors/detail?is_public=false')
    assert.deepEqual(r.body.flavors.map((f: any) => f.id), ['private'])
    r = await h.json('GET', '/v2.1/flavors?is_public=bogus')
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'Invalid is_public filter [bogus]')
    r = await h.json('GET', '/v2.1/flavors/private/os-flavor-access')
    assert.deepEqual(r.body, { flavor_access: [] })
    r = await h.json('POST', '/v2.1/flavors/private/action', { body: { addTenantAccess: { tenant: member.projectId } } })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.flavor_access, [{ flavor_id: 'private', tenant_id: member.projectId }])
    assert.ok((await seen()).includes('private'))
    r = await h.json('POST', '/v2.1/flavors/private/action', { body: { addTenantAccess: { tenant: member.projectId } } })
    assert.equal(r.status, 409)
    r = await h.json('POST', '/v2.1/flavors/private/action', { token: member.token, body: { removeTenantAccess: { tenant: member.projectId } } })
    assert.equal(r.status, 403)
    r = await h.json('POST', '/v2.1/flavors/private/action', { body: { removeTenantAccess: { tenant: member.projectId } } })
    assert.deepEqual(r.body.flavor_access, [])
    assert.equal((await seen()).includes('private'), false)
    r = await h.json('POST', '/v2.1/flavors/private/action', { body: { removeTenantAccess: { tenant: member.projectId } } })
    assert.equal(r.status, 404)
    r = await h.json('GET', '/v2.1/flavors/tiny/os-flavor-access')
    assert.equal(r.status, 404)
    r = await h.json('POST', '/v2.1/flavors/tiny/action', { body: { addTenantAccess: { tenant: member.projectId } } })
    assert.equal(r.status, 409)
    r = await h.json('POST', '/v2.1/flavors/private/action', { body: { frobnicate: {} } })
    assert.equal(r.status, 400)
  })
})
