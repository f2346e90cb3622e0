import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { type IdentityHarness, identityHarness } from '../testing.ts'
import { addProject, addService, rbacTokens } from '../ext-fixtures.ts'
import { newId } from './common.ts'

const P = '/v3/OS-EP-FILTER'
const ids = (list: { id: string }[]) => list.map((x) => x.id).sort()

describe('OS-EP-FILTER', () => {
  let h: IdentityHarness
  let t: Awaited<ReturnType<typeof rbacTokens>>
  before(async () => { h = await identityHarness(); t = await rbacTokens(h) })
  after(async () => { await h.close() })

  const createGroup = async (endpoint_group: unknown) => h.call('POST', `${P}/endpoint_groups`, { body: { endpoint_group } })

  describe('endpoint groups', () => {
    it('creates, lists, shows, checks, updates and deletes (the Tempest flow)', async () => {
      const s1 = await addService(h)
      const name = `eg-${newId()}`
      const r = await createGroup({ name, description: 'first', filters: { service_id: s1.serviceId } })
      assert.equal(r.statusCode, 201)
      const g = r.json().endpoint_group
      assert.equal(g.name, name)
      assert.equal(g.description, 'first')
      assert.deepEqual(g.filters, { service_id: s1.serviceId })
      assert.match(g.links.self, new RegExp(`/v3/OS-EP-FILTER/endpoint_groups/${g.id}$`))

      // Tempest compares the created dict with the listed one as a whole.
      const list = (await h.call('GET', `${P}/endpoint_groups`)).json()
      assert.deepEqual(list.endpoint_groups.find((x: { id: string }) => x.id === g.id), g)
      assert.deepEqual((await h.call('GET', `${P}/endpoint_groups?name=${name}`)).json().endpoint_groups, [g])
      assert.deepEqual((await h.call('GET', `${P}/endpoint_groups?name=nope-${newId()}`)).json().endpoint_groups, [])

      assert.deepEqual((await h.call('GET', `${P}/endpoint_groups/${g.id}`)).json().endpoint_group, g)
      const head = await h.call('HEAD', `${P}/endpoint_groups/${g.id}`)
      assert.equal(head.statusCode, 200)
      assert.equal(head.body, '')

      const s2 = await addService(h)
      const u = await h.call('PATCH', `${P}/endpoint_groups/${g.id}`, { body: { endpoint_group: {
        name: `${name}-2`, description: 'second', filters: { service_id: s2.serviceId, interface: 'public' } } } })
      assert.equal(u.statusCode, 200)
      assert.equal(u.json().endpoint_group.name, `${name}-2`)
      assert.equal(u.json().endpoint_group.description, 'second')
      assert.deepEqual(u.json().endpoint_group.filters, { service_id: s2.serviceId, interface: 'public' })
      const partial = await h.call('PATCH', `${P}/endpoint_groups/${g.id}`, { body: { endpoint_group: { description: null } } })
      assert.equal(partial.json().endpoint_group.name, `${name}-2`)
      assert.deepEqual(partial.json().endpoint_group.filters, { service_id: s2.serviceId, interface: 'public' })

      assert.equal((await h.call('DELETE', `${P}/endpoint_groups/${g.id}`)).statusCode, 204)
      const gone = await h.call('GET', `${P}/endpoint_groups/${g.id}`)
      assert.equal(gone.statusCode, 404)
      assert.equal(gone.json().error.message, `Could not find Endpoint Group: ${g.id}.`)
      assert.equal((await h.call('HEAD', `${P}/endpoint_groups/${g.id}`)).statusCode, 404)
      assert.equal((await h.call('DELETE', `${P}/endpoint_groups/${g.id}`)).statusCode, 404)
      assert.ok(!ids((await h.call('GET', `${P}/endpoint_groups`)).json().endpoint_groups).includes(g.id))
    })

    it('lists the endpoints a group matches', async () => {
      const s = await addService(h)
      const other = await addService(h)
      const all = (await createGroup({ name: 'svc', filters: { service_id: s.serviceId } })).json().endpoint_group
      const r = await h.call('GET', `${P}/endpoint_groups/${all.id}/endpoints`)
      assert.equal(r.statusCode, 200)
      assert.deepEqual(ids(r.json().endpoints), Object.values(s.endpoints).sort())
      const ep = r.json().endpoints[0]
      assert.equal(ep.region, ep.region_id)
      assert.match(ep.links.self, new RegExp(`/v3/endpoints/${ep.id}$`))

      const pub = (await createGroup({ name: 'pub', filters: { service_id: s.serviceId, interface: 'public', region_id: 'RegionOne' } })).json().endpoint_group
      assert.deepEqual(ids((await h.call('GET', `${P}/endpoint_groups/${pub.id}/endpoints`)).json().endpoints), [s.endpoints.public])
      const none = (await createGroup({ name: 'none', filters: { service_id: s.serviceId, region_id: 'Elsewhere' } })).json().endpoint_group
      assert.deepEqual((await h.call('GET', `${P}/endpoint_groups/${none.id}/endpoints`)).json().endpoints, [])
      assert.ok(!ids(r.json().endpoints).includes(other.endpoints.public))
      assert.equal((await h.call('GET', `${P}/endpoint_groups/${newId()}/endpoints`)).statusCode, 404)
    })

    it('rejects bad input and changes nothing', async () => {
      const count = (await h.call('GET', `${P}/endpoint_groups`)).json().endpoint_groups.length
      const bad = [
        { name: 'x', filters: {} },
        { name: 'x' },
        { filters: { interface: 'public' } },
        { name: '', filters: { interface: 'public' } },
        { name: 'x', filters: { interface: 'sideways' } },
        { name: 'x', filters: { enabled: true } },
        { name: 'x', filters: { url: 'http://a' } },
        { name: 'x', filters: 'interface=public' },
        { name: 'x', filters: { interface: 'public' }, color: 'red' },
        { name: 5, filters: { interface: 'public' } },
      ]
      for (const body of bad) {
        const r = await createGroup(body)
        assert.equal(r.statusCode, 400, JSON.stringify(body))
      }
      const unknownKey = await createGroup({ name: 'x', filters: { enabled: true } })
      assert.match(unknownKey.json().error.message, /Expecting to find service_id or region_id or interface in endpoint_group/)
      assert.match((await createGroup({ name: 'x', filters: {} })).json().error.message, /filters field is required and cannot be empty/)
      assert.equal((await h.call('POST', `${P}/endpoint_groups`, { body: '{"endpoint_group":' })).statusCode, 400)
      assert.equal((await h.call('GET', `${P}/endpoint_groups`)).json().endpoint_groups.length, count)

      const g = (await createGroup({ name: 'keep', filters: { interface: 'admin' } })).json().endpoint_group
      for (const body of [{}, { filters: { url: 'x' } }, { id: 'other' }, { name: null }]) {
        const r = await h.call('PATCH', `${P}/endpoint_groups/${g.id}`, { body: { endpoint_group: body } })
        assert.equal(r.statusCode, 400, JSON.stringify(body))
      }
      assert.deepEqual((await h.call('GET', `${P}/endpoint_groups/${g.id}`)).json().endpoint_group, g)
      assert.equal((await h.call('PATCH', `${P}/endpoint_groups/${newId()}`, { body: { endpoint_group: { name: 'n' } } })).statusCode, 404)
    })
  })

  describe('endpoint group <-> project', () => {
    it('associates, checks, lists and removes', async () => {
      const s = await addService(h)
      const project = await addProject(h)
      const g = (await createGroup({ name: 'pg', filters: { service_id: s.serviceId, interface: 'internal' } })).json().endpoint_group
      const url = `${P}/endpoint_groups/${g.id}/projects/${project}`
      assert.equal((await h.call('GET', url)).statusCode, 404)
      assert.equal((await h.call('PUT', url)).statusCode, 204)
      assert.equal((await h.call('PUT', url)).statusCode, 409)

      const shown = await h.call('GET', url)
      assert.equal(shown.statusCode, 200)
      assert.equal(shown.json().project_endpoint_group.endpoint_group_id, g.id)
      assert.equal(shown.json().project_endpoint_group.project_id, project)
      assert.equal((await h.call('HEAD', url)).statusCode, 200)

      const projects = (await h.call('GET', `${P}/endpoint_groups/${g.id}/projects`)).json()
      assert.deepEqual(ids(projects.projects), [project])
      assert.equal(projects.projects[0].domain_id, 'default')
      const groups = (await h.call('GET', `${P}/projects/${project}/endpoint_groups`)).json()
      assert.deepEqual(groups.endpoint_groups, [g])
      const eps = (await h.call('GET', `${P}/projects/${project}/endpoints`)).json()
      assert.deepEqual(ids(eps.endpoints), [s.endpoints.internal])

      assert.equal((await h.call('DELETE', url)).statusCode, 204)
      assert.equal((await h.call('DELETE', url)).statusCode, 404)
      assert.deepEqual((await h.call('GET', `${P}/projects/${project}/endpoint_groups`)).json().endpoint_groups, [])
      assert.deepEqual((await h.call('GET', `${P}/endpoint_groups/${g.id}/projects`)).json().projects, [])
    })

    it('answers 404 for unknown groups and projects, and drops associations with the group', async () => {
      const project = await addProject(h)
      const g = (await createGroup({ name: 'gone', filters: { interface: 'admin' } })).json().endpoint_group
      const unknown = newId()
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const noProject = await h.call(method, `${P}/endpoint_groups/${g.id}/projects/${unknown}`)
        assert.equal(noProject.statusCode, 404)
        assert.equal(noProject.json().error.message, `Could not find project: ${unknown}.`)
        assert.equal((await h.call(method, `${P}/endpoint_groups/${unknown}/projects/${project}`)).statusCode, 404)
      }
      assert.equal((await h.call('GET', `${P}/endpoint_groups/${unknown}/projects`)).statusCode, 404)
      assert.equal((await h.call('GET', `${P}/projects/${unknown}/endpoint_groups`)).statusCode, 404)
      assert.equal((await h.call('GET', `${P}/projects/${unknown}/endpoints`)).statusCode, 404)

      await h.call('PUT', `${P}/endpoint_groups/${g.id}/projects/${project}`)
      assert.equal((await h.call('DELETE', `${P}/endpoint_groups/${g.id}`)).statusCode, 204)
      const left = await h.identity.ctx.db.selectFrom('project_endpoint_groups').selectAll().where('endpoint_group_id', '=', g.id).execute()
      assert.deepEqual(left, [])
    })
  })

  describe('project <-> endpoint', () => {
    it('associates, checks, lists and removes', async () => {
      const s = await addService(h)
      const project = await addProject(h)
      const ep = s.endpoints.admin!
      const url = `${P}/projects/${project}/endpoints/${ep}`
      assert.equal((await h.call('HEAD', url)).statusCode, 404)
      assert.equal((await h.call('PUT', url)).statusCode, 204)
      assert.equal((await h.call('PUT', url)).statusCode, 409)
      const head = await h.call('HEAD', url)
      assert.equal(head.statusCode, 204)
      assert.equal((await h.call('GET', url)).statusCode, 204)

      const eps = (await h.call('GET', `${P}/projects/${project}/endpoints`)).json()
      assert.deepEqual(ids(eps.endpoints), [ep])
      assert.equal(eps.endpoints[0].url, `http://svc-${s.serviceId}.example/admin`)
      const projects = (await h.call('GET', `${P}/endpoints/${ep}/projects`)).json()
      assert.deepEqual(ids(projects.projects), [project])

      // Direct and group associations are merged without duplicates.
      const g = (await createGroup({ name: 'both', filters: { service_id: s.serviceId } })).json().endpoint_group
      await h.call('PUT', `${P}/endpoint_groups/${g.id}/projects/${project}`)
      assert.deepEqual(ids((await h.call('GET', `${P}/projects/${project}/endpoints`)).json().endpoints), Object.values(s.endpoints).sort())

      assert.equal((await h.call('DELETE', url)).statusCode, 204)
      assert.equal((await h.call('DELETE', url)).statusCode, 404)
      assert.equal((await h.call('HEAD', url)).statusCode, 404)
      assert.deepEqual((await h.call('GET', `${P}/endpoints/${ep}/projects`)).json().projects, [])
    })

    it('answers 404 for unknown endpoints and projects', async () => {
      const s = await addService(h)
      const project = await addProject(h)
      const unknown = newId()
      const r = await h.call('PUT', `${P}/projects/${project}/endpoints/${unknown}`)
      assert.equal(r.statusCode, 404)
      assert.equal(r.json().error.message, `Could not find endpoint: ${unknown}.`)
      assert.equal((await h.call('PUT', `${P}/projects/${unknown}/endpoints/${s.endpoints.public}`)).statusCode, 404)
      assert.equal((await h.call('GET', `${P}/projects/${unknown}/endpoints/${s.endpoints.public}`)).statusCode, 404)
      assert.equal((await h.call('GET', `${P}/endpoints/${unknown}/projects`)).statusCode, 404)
      const rows = await h.identity.ctx.db.selectFrom('project_endpoints').selectAll().where('project_id', '=', unknown).execute()
      assert.deepEqual(rows, [])
    })
  })

  it('lets only admins write, and admins or system readers read', async () => {
    const s = await addService(h)
    const project = await addProject(h)
    const g = (await createGroup({ name: 'rbac', filters: { service_id: s.serviceId } })).json().endpoint_group
    await h.call('PUT', `${P}/endpoint_groups/${g.id}/projects/${project}`)
    await h.call('PUT', `${P}/projects/${project}/endpoints/${s.endpoints.public}`)
    const writes: [string, string, unknown?][] = [
      ['POST', `${P}/endpoint_groups`, { endpoint_group: { name: 'x', filters: { interface: 'public' } } }],
      ['PATCH', `${P}/endpoint_groups/${g.id}`, { endpoint_group: { name: 'x' } }],
      ['DELETE', `${P}/endpoint_groups/${g.id}`],
      ['PUT', `${P}/endpoint_groups/${g.id}/projects/${t.project}`],
      ['DELETE', `${P}/endpoint_groups/${g.id}/projects/${project}`],
      ['PUT', `${P}/projects/${t.project}/endpoints/${s.endpoints.public}`],
      ['DELETE', `${P}/projects/${project}/endpoints/${s.endpoints.public}`],
    ]
    const reads = [
      `${P}/endpoint_groups`, `${P}/endpoint_groups/${g.id}`, `${P}/endpoint_groups/${g.id}/endpoints`,
      `${P}/endpoint_groups/${g.id}/projects`, `${P}/endpoint_groups/${g.id}/projects/${project}`,
      `${P}/projects/${project}/endpoint_groups`, `${P}/projects/${project}/endpoints`,
      `${P}/projects/${project}/endpoints/${s.endpoints.public}`, `${P}/endpoints/${s.endpoints.public}/projects`,
    ]
    for (const token of [t.member, t.reader, t.systemReader]) {
      for (const [method, url, body] of writes) {
        assert.equal((await h.call(method, url, { token, body })).statusCode, 403, `${method} ${url}`)
      }
    }
    // A member of a project cannot read even its own project's associations.
    for (const token of [t.member, t.reader]) {
      for (const url of [...reads, `${P}/projects/${t.project}/endpoints`]) {
        assert.equal((await h.call('GET', url, { token })).statusCode, 403, url)
      }
      assert.equal((await h.call('HEAD', `${P}/endpoint_groups/${g.id}`, { token })).statusCode, 403)
    }
    for (const url of reads) assert.ok([200, 204].includes((await h.call('GET', url, { token: t.systemReader })).statusCode), url)
    // Nothing changed.
    assert.deepEqual((await h.call('GET', `${P}/endpoint_groups/${g.id}`)).json().endpoint_group, g)
    assert.equal((await h.call('HEAD', `${P}/projects/${project}/endpoints/${s.endpoints.public}`)).statusCode, 204)
  })
})
