import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { insertServer, registerHost } from './actions-testing.ts'

describe('os-aggregates', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
    await registerHost(h, 'host1')
    await registerHost(h, 'host2')
    await registerHost(h, 'host3')
  })
  after(async () => { await h.close() })

  const zoneOf = async (host: string) => {
    const r = await h.json('GET', `/v2.1/os-services?host=${host}`)
    return r.body.services[0].zone as string
  }
  const create = async (name: string, az?: string) => {
    const r = await h.json('POST', '/v2.1/os-aggregates', { body: { aggregate: { name, ...(az ? { availability_zone: az } : {}) } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body.aggregate
  }

  it('creates, shows, lists, updates and deletes, with Nova views', async () => {
    const a = await create('agg1')
    assert.deepEqual(Object.keys(a).sort(), ['availability_zone', 'created_at', 'deleted', 'deleted_at', 'id', 'name', 'updated_at'])
    assert.equal(a.availability_zone, null); assert.equal(a.deleted, false); assert.equal(a.updated_at, null)
    assert.match(a.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    let r = await h.json('GET', `/v2.1/os-aggregates/${a.id}`, { version: '2.41' })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.aggregate.hosts, []); assert.deepEqual(r.body.aggregate.metadata, {})
    assert.match(r.body.aggregate.uuid, /^[0-9a-f-]{36}$/)
    r = await h.json('GET', `/v2.1/os-aggregates/${a.id}`)
    assert.equal('uuid' in r.body.aggregate, false)
    r = await h.json('PUT', `/v2.1/os-aggregates/${a.id}`, { body: { aggregate: { name: 'agg1b', availability_zone: 'zz' } } })
    assert.equal(r.status, 200)
    assert.equal(r.body.aggregate.name, 'agg1b'); assert.equal(r.body.aggregate.availability_zone, 'zz')
    assert.deepEqual(r.body.aggregate.metadata, { availability_zone: 'zz' })
    assert.notEqual(r.body.aggregate.updated_at, null)
    r = await h.json('GET', '/v2.1/os-aggregates')
    assert.ok(r.body.aggregates.some((x: any) => x.id === a.id && x.name === 'agg1b' && x.availability_zone === 'zz'))
    r = await h.json('DELETE', `/v2.1/os-aggregates/${a.id}`)
    assert.equal(r.status, 200)
    r = await h.json('GET', `/v2.1/os-aggregates/${a.id}`)
    assert.equal(r.status, 404)
    assert.equal(r.body.itemNotFound.message, `Aggregate ${a.id} could not be found.`)
  })

  it('validates input and rejects duplicates and unknown ids', async () => {
    for (const body of [{ aggregate: { name: '' } }, { aggregate: { name: 'x'.repeat(256) } }, { aggregate: {} }, {},
      { aggregate: { name: 'ok', extra: 1 } }, { aggregate: { name: ' lead' } }]) {
      const r = await h.json('POST', '/v2.1/os-aggregates', { body })
      assert.equal(r.status, 400, JSON.stringify(body))
    }
    await create('dup')
    let r = await h.json('POST', '/v2.1/os-aggregates', { body: { aggregate: { name: 'dup' } } })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, 'Aggregate dup already exists.')
    const other = await create('dup2')
    r = await h.json('PUT', `/v2.1/os-aggregates/${other.id}`, { body: { aggregate: { name: 'dup' } } })
    assert.equal(r.status, 409)
    r = await h.json('PUT', `/v2.1/os-aggregates/${other.id}`, { body: { aggregate: {} } })
    assert.equal(r.status, 400)
    for (const [m, u] of [['GET', '/v2.1/os-aggregates/-1'], ['DELETE', '/v2.1/os-aggregates/-1'], ['PUT', '/v2.1/os-aggregates/999']] as const) {
      r = await h.json(m, u, { body: m === 'PUT' ? { aggregate: { name: 'n' } } : undefined })
      assert.equal(r.status, 404, `${m} ${u}`)
    }
    r = await h.json('GET', '/v2.1/os-aggregates/abc')
    assert.equal(r.status, 400)
    r = await h.json('POST', `/v2.1/os-aggregates/${other.id}/action`, { body: { set_metadata: { metadata: { 'bad key!': 'v' } } } })
    assert.equal(r.status, 400)
    r = await h.json('POST', `/v2.1/os-aggregates/${other.id}/action`, { body: { nope: {} } })
    assert.equal(r.status, 400)
  })

  it('is admin only', async () => {
    const a = await create('adminonly')
    const t = { token: member.token }
    for (const [m, u, body] of [
      ['GET', '/v2.1/os-aggregates', undefined], ['POST', '/v2.1/os-aggregates', { aggregate: { name: 'u' } }],
      ['GET', `/v2.1/os-aggregates/${a.id}`, undefined], ['PUT', `/v2.1/os-aggregates/${a.id}`, { aggregate: { name: 'u' } }],
      ['DELETE', `/v2.1/os-aggregates/${a.id}`, undefined],
      ['POST', `/v2.1/os-aggregates/${a.id}/action`, { add_host: { host: 'host1' } }],
      ['POST', `/v2.1/os-aggregates/${a.id}/action`, { remove_host: { host: 'host1' } }],
      ['POST', `/v2.1/os-aggregates/${a.id}/action`, { set_metadata: { metadata: { k: 'v' } } }],
    ] as const) {
      const r = await h.json(m, u, { ...t, body })
      assert.equal(r.status, 403, `${m} ${u}`)
    }
  })

  it('adds and removes hosts with Nova errors, and metadata merges', async () => {
    const a = await create('hosts')
    const act = (body: object) => h.json('POST', `/v2.1/os-aggregates/${a.id}/action`, { body })
    let r = await act({ add_host: { host: 'host1' } })
    assert.equal(r.status, 200); assert.deepEqual(r.body.aggregate.hosts, ['host1'])
    r = await act({ add_host: { host: 'host1' } })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, `Aggregate ${a.id} already has host host1.`)
    r = await act({ add_host: { host: 'nosuchhost' } })
    assert.equal(r.status, 404)
    assert.equal(r.body.itemNotFound.message, 'Compute host nosuchhost could not be found.')
    r = await act({ remove_host: { host: 'host2' } })
    assert.equal(r.status, 404)
    r = await act({ remove_host: { host: 'nosuchhost' } })
    assert.equal(r.status, 404)
    r = await h.json('DELETE', `/v2.1/os-aggregates/${a.id}`)
    assert.equal(r.status, 400)
    r = await act({ set_metadata: { metadata: { a: '1', b: '2' } } })
    assert.deepEqual(r.body.aggregate.metadata, { a: '1', b: '2' })
    r = await act({ set_metadata: { metadata: { a: null, c: '3' } } })
    assert.deepEqual(r.body.aggregate.metadata, { b: '2', c: '3' })
    r = await act({ remove_host: { host: 'host1' } })
    assert.equal(r.status, 200); assert.deepEqual(r.body.aggregate.hosts, [])
    r = await h.json('DELETE', `/v2.1/os-aggregates/${a.id}`)
    assert.equal(r.status, 200)
  })

  it('moves hosts between availability zones through services.zone', async () => {
    const z1 = await create('zone1', 'az1')
    const z2 = await create('zone2', 'az2')
    const act = (id: number, body: object) => h.json('POST', `/v2.1/os-aggregates/${id}/action`, { body })
    assert.equal((await act(z1.id, { add_host: { host: 'host2' } })).status, 200)
    assert.equal(await zoneOf('host2'), 'az1')
    // A heartbeat (even one declaring a zone) keeps the aggregate's zone.
    await registerHost(h, 'host2', { zone: 'elsewhere' })
    assert.equal(await zoneOf('host2'), 'az1')
    let r = await h.json('GET', '/v2.1/os-availability-zone')
    assert.ok(r.body.availabilityZoneInfo.some((z: any) => z.zoneName === 'az1'))
    // The same host cannot join another zone (409 on add, as Nova).
    r = await act(z2.id, { add_host: { host: 'host2' } })
    assert.equal(r.status, 409)
    // Nor can its aggregate's zone be changed to conflict, or emptied (400).
    assert.equal((await act(z2.id, { add_host: { host: 'host3' } })).status, 200)
    const plain = await create('plain')
    assert.equal((await act(plain.id, { add_host: { host: 'host2' } })).status, 200)
    assert.equal((await act(plain.id, { add_host: { host: 'host3' } })).status, 200)
    r = await act(plain.id, { set_metadata: { metadata: { availability_zone: 'az1' } } })
    assert.equal(r.status, 400)
    r = await h.json('PUT', `/v2.1/os-aggregates/${plain.id}`, { body: { aggregate: { availability_zone: 'az1' } } })
    assert.equal(r.status, 400)
    r = await act(z1.id, { set_metadata: { metadata: { availability_zone: null } } })
    assert.equal(r.status, 400)
    // Renaming a zone moves its hosts.
    r = await act(z1.id, { set_metadata: { metadata: { availability_zone: 'az1b' } } })
    assert.equal(r.status, 200)
    assert.equal(await zoneOf('host2'), 'az1b')
    r = await h.json('PUT', `/v2.1/os-aggregates/${z1.id}`, { body: { aggregate: { availability_zone: 'az1c' } } })
    assert.equal(r.status, 200)
    assert.equal(await zoneOf('host2'), 'az1c')
    // A host running servers cannot change zone.
    await insertServer(h, { project_id: member.projectId, user_id: member.userId, host: 'host2', node: 'host2' })
    r = await h.json('PUT', `/v2.1/os-aggregates/${z1.id}`, { body: { aggregate: { availability_zone: 'az1d' } } })
    assert.equal(r.status, 400)
    assert.equal(await zoneOf('host2'), 'az1c')
    // Leaving the zone's aggregate puts the host back in the default zone.
    assert.equal((await act(z1.id, { remove_host: { host: 'host2' } })).status, 200)
    assert.equal(await zoneOf('host2'), 'nova')
    assert.equal(await zoneOf('host3'), 'az2')
  })
})
