import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type ComputeHarness, computeHarness } from '../testing.ts'

// /servers/{id}/metadata and /servers/{id}/tags: Nova's validation, quota, lock and state rules.

type User = { projectId: string; userId: string; token: string }

describe('server metadata and tags', () => {
  let h: ComputeHarness
  let u: User
  let other: User
  let id: string
  before(async () => {
    h = await computeHarness()
    await h.compute.conductor.stop()
    u = await h.projectUser('member')
    other = await h.projectUser('member')
    const image = await h.makeImage()
    let r = await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'a', id: 'fa', ram: 256, vcpus: 1, disk: 1 } } })
    assert.equal(r.status, 200)
    r = await h.json('POST', '/v2.1/servers', { token: u.token, body: { server: { name: 'm', imageRef: image, flavorRef: 'fa', metadata: { a: '1' } } } })
    assert.equal(r.status, 202)
    id = r.body.server.id
    // As the agent would have reported it: active on host h1.
    await db().updateTable('instances').set({ vm_state: 'active', task_state: null, host: 'h1', node: 'h1', power_state: 1 }).where('uuid', '=', id).execute()
  })
  after(async () => { await h.close() })
  const db = () => h.compute.ctx.db
  const call = (method: string, path: string, o: { body?: unknown; version?: string; token?: string } = {}) =>
    h.json(method, `/v2.1/servers/${id}${path}`, { token: o.token ?? u.token, body: o.body, version: o.version })
  const revision = async () => Number((await db().selectFrom('host_revisions').select('revision').where('host', '=', 'h1').executeTakeFirst())?.revision ?? 0)

  test('metadata: list, merge, replace, item show/set/delete; agents see changes', async () => {
    let r = await call('GET', '/metadata')
    assert.deepEqual(r.body, { metadata: { a: '1' } })
    const rev = await revision()
    r = await call('POST', '/metadata', { body: { metadata: { b: '2', a: 'one' } } })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, { metadata: { a: 'one', b: '2' } })
    assert.ok(await revision() > rev)
    r = await call('PUT', '/metadata', { body: { metadata: { c: '3' } } })
    assert.deepEqual(r.body, { metadata: { c: '3' } })
    r = await call('GET', '/metadata/c')
    assert.deepEqual(r.body, { meta: { c: '3' } })
    r = await call('GET', '/metadata/zz')
    assert.equal(r.status, 404)
    assert.equal(r.body.itemNotFound.message, 'Metadata item was not found')
    r = await call('PUT', '/metadata/d', { body: { meta: { d: '4' } } })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, { meta: { d: '4' } })
    r = await call('DELETE', '/metadata/c')
    assert.equal(r.status, 204)
    r = await call('DELETE', '/metadata/c')
    assert.equal(r.status, 404)
    r = await call('GET', '')
    assert.deepEqual(r.body.server.metadata, { d: '4' })
  })

  test('metadata: bad input is 400 and changes nothing; quota 403; another project 404', async () => {
    const bad: Array<[string, string, unknown, RegExp]> = [
      ['PUT', '/metadata/d', { meta: { e: '5' } }, /Request body and URI mismatch/],
      ['PUT', '/metadata/d', { meta: { d: '5', e: '6' } }, /meta/],
      ['PUT', '/metadata/d', { meta: {} }, /meta/],
      ['POST', '/metadata', { metadata: { ['k'.repeat(256)]: 'v' } }, /metadata/],
      ['POST', '/metadata', { metadata: { k: 'v'.repeat(256) } }, /metadata/],
      ['POST', '/metadata', { metadata: { k: 1 } }, /metadata/],
      ['PUT', '/metadata', { meta: { k: 'v' } }, /metadata/],
    ]
    for (const [m, p, body, msg] of bad) {
      const r = await call(m, p, { body })
      assert.equal(r.status, 400, `${m} ${p} ${JSON.stringify(body)} → ${JSON.stringify(r.body)}`)
      assert.match(r.body.badRequest.message, msg)
    }
    let r = await h.json('PUT', `/v2.1/os-quota-sets/${u.projectId}`, { body: { quota_set: { metadata_items: 2 } } })
    assert.equal(r.status, 200)
    r = await call('POST', '/metadata', { body: { metadata: { x: '1', y: '2' } } })
    assert.equal(r.status, 403)
    assert.equal(r.body.forbidden.message, 'Maximum number of metadata items exceeds 2')
    r = await call('GET', '/metadata')
    assert.deepEqual(r.body, { metadata: { d: '4' } })
    r = await call('GET', '/metadata', { token: other.token })
    assert.equal(r.status, 404)
    r = await call('POST', '/metadata', { token: other.token, body: { metadata: { x: '1' } } })
    assert.equal(r.status, 404)
  })

  test('locked: 409 for members (metadata), admins may change; building: 409', async () => {
    await db().updateTable('instances').set({ locked: 1, locked_by: 'admin' }).where('uuid', '=', id).execute()
    let r = await call('POST', '/metadata', { body: { metadata: { l: '1' } } })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, `Instance ${id} is locked`)
    r = await call('DELETE', '/metadata/d')
    assert.equal(r.status, 409)
    // Nova checks no lock for tags.
    r = await call('PUT', '/tags/t', { version: '2.26' })
    assert.equal(r.status, 201)
    assert.equal((await call('DELETE', '/tags/t', { version: '2.26' })).status, 204)
    r = await call('POST', '/metadata', { body: { metadata: { l: '1' } }, token: h.identity.adminToken })
    assert.equal(r.status, 200)
    await db().updateTable('instances').set({ locked: 0, locked_by: null, vm_state: 'building', task_state: 'spawning' }).where('uuid', '=', id).execute()
    r = await call('POST', '/metadata', { body: { metadata: { l: '2' } } })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, `Cannot 'update metadata' instance ${id} while it is in vm_state building`)
    r = await call('PUT', '/tags/t', { version: '2.26' })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, `Cannot 'update tag' instance ${id} while it is in vm_state building`)
    await db().updateTable('instances').set({ vm_state: 'active', task_state: null }).where('uuid', '=', id).execute()
  })

  test('tags: 404 before 2.26; replace, list, add (201/204), check, delete one and all', async () => {
    let r = await call('GET', '/tags')
    assert.equal(r.status, 404)
    const v = { version: '2.26' }
    r = await call('PUT', '/tags', { ...v, body: { tags: ['b', 'a', 'a'] } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(r.body, { tags: ['a', 'b'] })
    r = await call('GET', '/tags', v)
    assert.deepEqual(r.body, { tags: ['a', 'b'] })
    r = await call('PUT', '/tags/c', v)
    assert.equal(r.status, 201)
    assert.match(String(r.headers.location), new RegExp(`/v2.1/servers/${id}/tags/c$`))
    r = await call('PUT', '/tags/c', v)
    assert.equal(r.status, 204)
    assert.equal((await call('GET', '/tags/c', v)).status, 204)
    assert.equal((await call('GET', '/tags/zz', v)).status, 404)
    assert.equal((await call('DELETE', '/tags/c', v)).status, 204)
    assert.equal((await call('DELETE', '/tags/c', v)).status, 404)
    r = await call('GET', '', v)
    assert.deepEqual(r.body.server.tags, ['a', 'b'])
    assert.equal((await call('DELETE', '/tags', v)).status, 204)
    assert.deepEqual((await call('GET', '/tags', v)).body, { tags: [] })
  })

  test('tags: bad input 400, 50 at most, another project 404', async () => {
    const v = { version: '2.26' }
    let r = await call('PUT', '/tags', { ...v, body: { tags: ['a,b'] } })
    assert.equal(r.status, 400)
    r = await call('PUT', '/tags', { ...v, body: { tags: ['x'.repeat(61)] } })
    assert.equal(r.status, 400)
    r = await call('PUT', '/tags', { ...v, body: { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) } })
    assert.equal(r.status, 400)
    r = await call('PUT', '/tags', { ...v, body: { tags: Array.from({ length: 50 }, (_, i) => `t${i}`) } })
    assert.equal(r.status, 200)
    r = await call('PUT', '/tags/one-more', v)
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'The number of tags exceeded the per-server limit 50')
    r = await call('PUT', '/tags/t0', v)
    assert.equal(r.status, 400, 'the count is checked before presence, as in Nova')
    r = await call('PUT', '/tags', { ...v, body: { tags: [] } })
    r = await call('PUT', `/tags/${'y'.repeat(61)}`, v)
    assert.equal(r.status, 400)
    assert.match(r.body.badRequest.message, /^Tag 'y+' is invalid/)
    r = await call('PUT', '/tags', { ...v, body: { tags: Array.from({ length: 50 }, (_, i) => `t${i}`) } })
    r = await call('GET', '/tags', { ...v, token: other.token })
    assert.equal(r.status, 404)
    r = await call('DELETE', '/tags', { ...v, token: other.token })
    assert.equal(r.status, 404)
    assert.equal((await call('GET', '/tags', v)).body.tags.length, 50)
  })
})
