import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type ComputeHarness, computeHarness } from '../testing.ts'

// GET /servers and /servers/detail: filters for members and admins, sorting, paging with links.

type User = { projectId: string; userId: string; token: string }

describe('server lists', () => {
  let h: ComputeHarness
  let u: User
  let other: User
  let image: string
  const ids: Record<string, string> = {}
  before(async () => {
    h = await computeHarness()
    await h.compute.conductor.stop()
    u = await h.projectUser('member')
    other = await h.projectUser('member')
    image = await h.makeImage()
    let r = await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'a', id: 'fa', ram: 256, vcpus: 1, disk: 1 } } })
    assert.equal(r.status, 200)
    r = await h.json('POST', '/v2.1/flavors', { body: { flavor: { name: 'b', id: 'fb', ram: 512, vcpus: 1, disk: 1 } } })
    assert.equal(r.status, 200)
    // Five servers with distinct creation times (oldest first): alpha … echo.
    const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo']
    for (const [i, name] of names.entries()) {
      r = await h.json('POST', '/v2.1/servers', { token: u.token, version: '2.52', body: { server: {
        name, imageRef: image, flavorRef: i % 2 ? 'fb' : 'fa', networks: 'none', tags: i < 2 ? ['red', 'big'] : i < 4 ? ['red'] : ['blue'] } } })
      assert.equal(r.status, 202, JSON.stringify(r.body))
      ids[name] = r.body.server.id
      await db().updateTable('instances').set({ created_at: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(), updated_at: new Date(Date.UTC(2026, 0, 1 + i)).toISOString() })
        .where('uuid', '=', ids[name]!).execute()
    }
    await db().updateTable('instances').set({ vm_state: 'active', task_state: null, power_state: 1,
      addresses: JSON.stringify({ user: [{ version: 4, addr: '169.254.0.7', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:07' }] }) })
      .where('uuid', '=', ids.bravo!).execute()
    await db().updateTable('instances').set({ vm_state: 'stopped', task_state: null, power_state: 4, locked: 1, locked_by: 'owner' }).where('uuid', '=', ids.charlie!).execute()
    r = await h.json('POST', '/v2.1/servers', { token: other.token, body: { server: { name: 'theirs', imageRef: image, flavorRef: 'fa' } } })
    assert.equal(r.status, 202)
    ids.theirs = r.body.server.id
  })
  after(async () => { await h.close() })
  const db = () => h.compute.ctx.db
  /** Names listed for `query`, as `u` unless told (`admin: true` for the admin's token). */
  const names = async (query: string, o: { version?: string; token?: string; admin?: boolean } = {}) => {
    const r = await h.json('GET', `/v2.1/servers${query}`, { token: o.admin ? h.identity.adminToken : o.token ?? u.token, version: o.version })
    assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`)
    return r.body.servers.map((s: { name: string }) => s.name)
  }

  test('index: id, links, name; newest first; own project only', async () => {
    const r = await h.json('GET', '/v2.1/servers', { token: u.token })
    assert.equal(r.status, 200)
    assert.deepEqual(Object.keys(r.body), ['servers'])
    assert.deepEqual(Object.keys(r.body.servers[0]).sort(), ['id', 'links', 'name'])
    assert.deepEqual(r.body.servers.map((s: any) => s.name), ['echo', 'delta', 'charlie', 'bravo', 'alpha'])
    assert.equal(r.body.servers[0].links[0].rel, 'self')
  })

  test('filters: name regex, status, image, flavor, ip, reservation_id', async () => {
    assert.deepEqual(await names('?name=^[ab]'), ['bravo', 'alpha'])
    assert.deepEqual(await names('?name=ar'), ['charlie'])
    assert.deepEqual(await names('?status=ACTIVE'), ['bravo'])
    assert.deepEqual(await names('?status=SHUTOFF&status=ACTIVE'), ['charlie', 'bravo'])
    assert.deepEqual(await names('?status=BUILD'), ['echo', 'delta', 'alpha'])
    assert.deepEqual(await names('?status=bogus'), [])
    const r = await h.json('GET', '/v2.1/servers?status=bogus', { token: u.token, version: '2.38' })
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'Invalid status value')
    assert.deepEqual(await names(`?image=${image}`), ['echo', 'delta', 'charlie', 'bravo', 'alpha'])
    assert.deepEqual(await names('?image=00000000-0000-4000-8000-000000000000'), [])
    assert.deepEqual(await names('?flavor=fb'), ['delta', 'bravo'])
    assert.deepEqual(await names('?ip=169\\.254\\.0\\.7'), ['bravo'])
    assert.deepEqual(await names('?ip=10\\.'), [])
    // Filters a member may not use are dropped, as Nova does.
    assert.deepEqual(await names('?host=nowhere'), ['echo', 'delta', 'charlie', 'bravo', 'alpha'])
    // From 2.75 unknown parameters are refused; joined-table filters always are (admins).
    let r2 = await h.json('GET', '/v2.1/servers?bogus=1', { token: u.token, version: '2.75' })
    assert.equal(r2.status, 400)
    r2 = await h.json('GET', '/v2.1/servers?metadata=x')
    assert.equal(r2.status, 400)
    assert.equal(r2.body.badRequest.message, 'Invalid filter field: metadata.')
    // Admins may use them.
    assert.deepEqual(await names(`?host=nowhere&all_tenants=1`, { admin: true }), [])
  })

  test('tags filters (2.26) and locked (2.73)', async () => {
    const v = { version: '2.26' }
    assert.deepEqual(await names('?tags=red,big', v), ['bravo', 'alpha'])
    assert.deepEqual(await names('?tags-any=big,blue', v), ['echo', 'bravo', 'alpha'])
    assert.deepEqual(await names('?not-tags=red,big', v), ['echo', 'delta', 'charlie'])
    assert.deepEqual(await names('?not-tags-any=red', v), ['echo'])
    assert.deepEqual(await names('?locked=true', { version: '2.73' }), ['charlie'])
    assert.deepEqual(await names('?locked=false', { version: '2.73' }), ['echo', 'delta', 'bravo', 'alpha'])
    const r = await h.json('GET', '/v2.1/servers?locked=maybe', { token: u.token, version: '2.73' })
    assert.equal(r.status, 400)
  })

  test('sorting: one or several keys, directions; invalid key → 400; host is for admins', async () => {
    assert.deepEqual(await names('?sort_key=display_name&sort_dir=asc'), ['alpha', 'bravo', 'charlie', 'delta', 'echo'])
    assert.deepEqual(await names('?sort_key=vm_state&sort_dir=asc&sort_key=display_name&sort_dir=desc'),
      ['bravo', 'echo', 'delta', 'alpha', 'charlie'])
    let r = await h.json('GET', '/v2.1/servers?sort_key=bogus', { token: u.token })
    assert.equal(r.status, 400)
    r = await h.json('GET', '/v2.1/servers?sort_key=display_name&sort_dir=up', { token: u.token })
    assert.equal(r.status, 400)
    r = await h.json('GET', '/v2.1/servers?sort_key=host', { token: u.token })
    assert.equal(r.status, 403)
    // Keys Nova ignores drop their direction too; from 2.75 they are invalid.
    assert.deepEqual(await names('?sort_key=vcpus&sort_dir=desc&sort_key=display_name&sort_dir=asc'), ['alpha', 'bravo', 'charlie', 'delta', 'echo'])
    r = await h.json('GET', '/v2.1/servers?sort_key=vcpus', { token: u.token, version: '2.75' })
    assert.equal(r.status, 400)
    assert.deepEqual(await names('?sort_key=locked&sort_dir=desc&sort_key=display_name&sort_dir=asc', { version: '2.73' }), ['charlie', 'alpha', 'bravo', 'delta', 'echo'])
  })

  test('paging: limit, marker, servers_links next; unknown marker → 400', async () => {
    let r = await h.json('GET', '/v2.1/servers/detail?limit=2', { token: u.token })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.servers.map((s: any) => s.name), ['echo', 'delta'])
    const next = new URL(r.body.servers_links[0].href)
    assert.equal(r.body.servers_links[0].rel, 'next')
    assert.equal(next.pathname, '/v2.1/servers/detail')
    assert.equal(next.searchParams.get('marker'), ids.delta)
    r = await h.json('GET', `${next.pathname}${next.search}`, { token: u.token })
    assert.deepEqual(r.body.servers.map((s: any) => s.name), ['charlie', 'bravo'])
    r = await h.json('GET', `/v2.1/servers?limit=2&marker=${ids.bravo}`, { token: u.token })
    assert.deepEqual(r.body.servers.map((s: any) => s.name), ['alpha'])
    assert.equal(r.body.servers_links, undefined)
    assert.deepEqual(await names(`?sort_key=display_name&sort_dir=asc&marker=${ids.charlie}`), ['delta', 'echo'])
    assert.deepEqual(await names(`?name=a&limit=1&marker=${ids.delta}`), ['charlie'])
    r = await h.json('GET', '/v2.1/servers?marker=nope', { token: u.token })
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'marker [nope] not found')
    r = await h.json('GET', `/v2.1/servers?marker=${ids.theirs}`, { token: u.token })
    assert.equal(r.status, 400)
    r = await h.json('GET', '/v2.1/servers?limit=-1', { token: u.token })
    assert.equal(r.status, 400)
  })

  test('all_tenants and tenant_id for admins; 403 for members; deleted and changes-since', async () => {
    let r = await h.json('GET', '/v2.1/servers?all_tenants=1', { token: u.token })
    assert.equal(r.status, 403)
    const all = await names('?all_tenants', { admin: true })
    assert.ok(all.includes('theirs') && all.includes('alpha'))
    assert.deepEqual(await names(`?all_tenants=1&tenant_id=${other.projectId}`, { admin: true }), ['theirs'])
    assert.deepEqual(await names(`?all_tenants=1&project_id=${other.projectId}`, { admin: true }), ['theirs'])
    // Without all_tenants tenant_id is ignored: the admin's own project has none.
    assert.deepEqual(await names(`?tenant_id=${other.projectId}`, { admin: true }), [])
    assert.deepEqual(await names('', { admin: true }), [])
    r = await h.json('GET', '/v2.1/servers?all_tenants=maybe')
    assert.equal(r.status, 400)

    r = await h.json('DELETE', `/v2.1/servers/${ids.theirs}`, { token: other.token })
    assert.equal(r.status, 204)
    assert.deepEqual(await names('', { token: other.token }), [])
    assert.deepEqual(await names(`?all_tenants=1&deleted=true&tenant_id=${other.projectId}`, { admin: true }), ['theirs'])
    assert.deepEqual(await names(`?all_tenants=1&status=DELETED&tenant_id=${other.projectId}`, { admin: true }), ['theirs'])
    r = await h.json('GET', '/v2.1/servers?status=DELETED', { token: other.token })
    assert.equal(r.status, 403)
    // changes-since shows deleted servers to their owners too.
    assert.deepEqual(await names('?changes-since=2020-01-01T00:00:00Z', { token: other.token }), ['theirs'])
    assert.deepEqual(await names('?changes-since=2026-01-04T00:00:00Z'), ['echo', 'delta'])
    assert.deepEqual(await names('?changes-before=2026-01-02T00:00:00Z', { version: '2.66' }), ['bravo', 'alpha'])
    for (const bad of ['yesterday', '2011/01/01', '2026-13-01T00:00:00Z']) {
      r = await h.json('GET', `/v2.1/servers?changes-since=${bad}`, { token: u.token })
      assert.equal(r.status, 400, bad)
    }
    assert.deepEqual(await names('?changes-since=2026-01-04T00:00'), ['echo', 'delta'])
    assert.deepEqual(await names('?changes-since=2026-01-04T02:00:00%2B02:00'), ['echo', 'delta'])
    r = await h.json('GET', '/v2.1/servers?changes-since=2026-02-01T00:00:00Z&changes-before=2026-01-01T00:00:00Z', { token: u.token, version: '2.66' })
    assert.equal(r.status, 400)
  })

  test('detail: the full view for each server, extras loaded per page', async () => {
    const r = await h.json('GET', '/v2.1/servers/detail', { token: u.token, version: '2.26' })
    assert.equal(r.status, 200)
    const byName = Object.fromEntries(r.body.servers.map((s: any) => [s.name, s]))
    assert.deepEqual(byName.alpha.tags, ['big', 'red'])
    assert.equal(byName.bravo.status, 'ACTIVE')
    assert.deepEqual(byName.bravo.addresses.user[0]['OS-EXT-IPS-MAC:mac_addr'], 'fa:16:3e:00:00:07')
    assert.equal(byName.charlie.status, 'SHUTOFF')
    assert.equal(byName.charlie.locked, true)
    assert.equal('progress' in byName.charlie, false)
  })
})
