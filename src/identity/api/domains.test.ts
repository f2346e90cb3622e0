import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type IdentityHarness, identityHarness } from '../testing.ts'
import { PASSWORD, grant, makeDomainRole, makeGroup, makeUser, req, uniq } from './resource-test-kit.ts'

describe('/v3/domains', () => {
  let h: IdentityHarness
  before(async () => { h = await identityHarness() })
  after(async () => { await h.close() })

  const create = async (domain: Record<string, unknown>) => {
    const r = await req(h, 'POST', '/v3/domains', { body: { domain } })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return r.body.domain
  }
  const disableAndDelete = async (id: string) => {
    assert.equal((await req(h, 'PATCH', `/v3/domains/${id}`, { body: { domain: { enabled: false } } })).status, 200)
    assert.equal((await req(h, 'DELETE', `/v3/domains/${id}`)).status, 204)
  }
  /** A user with `role` on a new project of the domain, and their project-scoped token. */
  const memberOf = async (domainId: string, role = 'member') => {
    const project = (await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('p'), domain_id: domainId } } })).body.project
    const user = await makeUser(h, { domainId })
    await grant(h, { user, project: project.id, role })
    return { user, project, token: await h.login(user, PASSWORD, { project: { id: project.id } }) }
  }

  test('create, show, update, list and delete with Keystone shapes', async () => {
    const name = uniq('dom')
    const d = await create({ name, description: 'first', tags: ['t1'], options: { immutable: false }, email: 'x@y' })
    assert.match(d.id, /^[0-9a-f]{32}$/)
    assert.deepEqual(d, { id: d.id, name, description: 'first', enabled: true, tags: ['t1'], options: { immutable: false },
      email: 'x@y', links: { self: `http://localhost:80/v3/domains/${d.id}` } })
    assert.deepEqual((await req(h, 'GET', `/v3/domains/${d.id}`)).body.domain, d)

    const newName = uniq('dom2')
    const u = await req(h, 'PATCH', `/v3/domains/${d.id}`, { body: { domain: { name: newName, description: null, enabled: false, email: 'z@y' } } })
    assert.equal(u.status, 200)
    assert.equal(u.body.domain.name, newName)
    assert.equal(u.body.domain.description, '')
    assert.equal(u.body.domain.enabled, false)
    assert.equal(u.body.domain.email, 'z@y')
    assert.deepEqual(u.body.domain.tags, ['t1'])

    const list = await req(h, 'GET', '/v3/domains')
    assert.equal(list.status, 200)
    assert.ok(list.body.domains.some((x: { id: string; name: string }) => x.id === d.id && x.name === newName))
    assert.equal(list.body.links.self, 'http://localhost:80/v3/domains')

    assert.equal((await req(h, 'DELETE', `/v3/domains/${d.id}`)).status, 204)
    const gone = await req(h, 'GET', `/v3/domains/${d.id}`)
    assert.equal(gone.status, 404)
    assert.equal(gone.body.error.message, `Could not find domain: ${d.id}.`)
  })

  test('defaults: description empty, enabled true; created disabled on request', async () => {
    const d = await create({ name: uniq('dom') })
    assert.equal(d.description, '')
    assert.equal(d.enabled, true)
    assert.deepEqual(d.tags, [])
    assert.deepEqual(d.options, {})
    const off = await create({ name: uniq('dom'), enabled: false })
    assert.equal(off.enabled, false)
    assert.equal((await req(h, 'DELETE', `/v3/domains/${off.id}`)).status, 204)
    await disableAndDelete(d.id)
  })

  test('the Default domain exists', async () => {
    const r = await req(h, 'GET', '/v3/domains/default')
    assert.equal(r.status, 200)
    assert.equal(r.body.domain.name, 'Default')
    assert.equal(r.body.domain.enabled, true)
    const byName = await req(h, 'GET', '/v3/domains?name=Default')
    assert.deepEqual(byName.body.domains.map((x: { id: string }) => x.id), ['default'])
  })

  test('an enabled domain cannot be deleted', async () => {
    const d = await create({ name: uniq('dom') })
    const r = await req(h, 'DELETE', `/v3/domains/${d.id}`)
    assert.equal(r.status, 403)
    assert.equal(r.body.error.message, 'Cannot delete a domain that is enabled, please disable it first.')
    assert.equal((await req(h, 'GET', `/v3/domains/${d.id}`)).status, 200)
    await disableAndDelete(d.id)
  })

  test('filters: name and enabled', async () => {
    const a = await create({ name: uniq('fa') })
    const b = await create({ name: uniq('fb'), enabled: false })
    const byName = await req(h, 'GET', `/v3/domains?name=${a.name}`)
    assert.deepEqual(byName.body.domains.map((x: { id: string }) => x.id), [a.id])
    const on = (await req(h, 'GET', '/v3/domains?enabled=True')).body.domains
    assert.ok(on.some((x: { id: string }) => x.id === a.id))
    assert.ok(!on.some((x: { id: string }) => x.id === b.id))
    assert.ok(on.every((x: { enabled: boolean }) => x.enabled))
    const off = (await req(h, 'GET', '/v3/domains?enabled=false')).body.domains
    assert.ok(off.some((x: { id: string }) => x.id === b.id))
    assert.ok(off.every((x: { enabled: boolean }) => !x.enabled))
    await disableAndDelete(a.id)
    await disableAndDelete(b.id)
  })

  test('bad input is rejected with 400 and changes nothing', async () => {
    const name = uniq('bad')
    const bad: unknown[] = [
      { domain: { name: '' } }, { domain: { name: 'a'.repeat(65) } }, { domain: { name: '   ' } },
      { domain: { description: 'no name' } }, { domain: { name, enabled: 'yes' } }, { domain: { name, description: 5 } },
      { domain: { name, tags: ['a/b'] } }, { domain: { name, tags: ['a,b'] } }, { domain: { name, tags: ['x', 'x'] } },
      { domain: { name, tags: ['t'.repeat(256)] } }, { domain: { name, options: { frozen: true } } },
      { domain: { name }, extra: 1 }, {}, { domain: 'x' },
      { domain: { name, explicit_domain_id: 'not-a-uuid' } },
      { domain: { name, explicit_domain_id: 'ABCDEF0123456789ABCDEF0123456789' } },
    ]
    for (const body of bad) {
      const r = await req(h, 'POST', '/v3/domains', { body })
      assert.equal(r.status, 400, JSON.stringify(body))
      assert.equal(r.body.error.code, 400)
    }
    const malformed = await h.call('POST', '/v3/domains', { body: '{"domain": {"name": ' })
    assert.equal(malformed.statusCode, 400)
    assert.equal((await req(h, 'GET', `/v3/domains?name=${name}`)).body.domains.length, 0)

    const d = await create({ name: uniq('dom') })
    for (const body of [{ domain: {} }, { domain: { name: '' } }, { domain: { enabled: 1 } }, { domain: { name: 'x' }, other: 1 }]) {
      assert.equal((await req(h, 'PATCH', `/v3/domains/${d.id}`, { body })).status, 400, JSON.stringify(body))
    }
    assert.equal((await req(h, 'GET', `/v3/domains/${d.id}`)).body.domain.name, d.name)
    await disableAndDelete(d.id)
  })

  test('explicit_domain_id sets the id; a taken id is a conflict', async () => {
    const id = uniq('x').replace(/[^0-9a-f]/g, '').padEnd(32, '0').slice(0, 32)
    const d = await create({ name: uniq('dom'), explicit_domain_id: id })
    assert.equal(d.id, id)
    assert.equal('explicit_domain_id' in d, false)
    const dup = await req(h, 'POST', '/v3/domains', { body: { domain: { name: uniq('dom'), explicit_domain_id: id } } })
    assert.equal(dup.status, 409)
    await disableAndDelete(id)
  })

  test('duplicate names are conflicts, on create and on rename', async () => {
    const a = await create({ name: uniq('dup') })
    const b = await create({ name: uniq('dup') })
    const r = await req(h, 'POST', '/v3/domains', { body: { domain: { name: a.name } } })
    assert.equal(r.status, 409)
    assert.equal(r.body.error.message, 'Conflict occurred attempting to store project - it is not permitted to have ' +
      `two projects acting as domains with the same name: ${a.name}.`)
    assert.equal((await req(h, 'PATCH', `/v3/domains/${b.id}`, { body: { domain: { name: a.name } } })).status, 409)
    assert.equal((await req(h, 'GET', `/v3/domains/${b.id}`)).body.domain.name, b.name)
    await disableAndDelete(a.id)
    await disableAndDelete(b.id)
  })

  test('unknown ids are 404', async () => {
    for (const [m, body] of [['GET', undefined], ['PATCH', { domain: { description: 'x' } }], ['DELETE', undefined]] as const) {
      const r = await req(h, m, '/v3/domains/0123456789abcdef0123456789abcdef', { body })
      assert.equal(r.status, 404, m)
      assert.equal(r.body.error.message, 'Could not find domain: 0123456789abcdef0123456789abcdef.')
    }
  })

  test('an immutable domain cannot change or go until made mutable', async () => {
    const d = await create({ name: uniq('imm'), options: { immutable: true } })
    const up = await req(h, 'PATCH', `/v3/domains/${d.id}`, { body: { domain: { enabled: false } } })
    assert.equal(up.status, 403)
    assert.match(up.body.error.message, /^Unable to update immutable domain resource/)
    const both = await req(h, 'PATCH', `/v3/domains/${d.id}`, { body: { domain: { options: { immutable: false }, description: 'x' } } })
    assert.equal(both.status, 403)
    const del = await req(h, 'DELETE', `/v3/domains/${d.id}`)
    assert.equal(del.status, 403)
    assert.match(del.body.error.message, /^Unable to delete immutable domain resource/)
    const unlock = await req(h, 'PATCH', `/v3/domains/${d.id}`, { body: { domain: { options: { immutable: null } } } })
    assert.equal(unlock.status, 200)
    assert.deepEqual(unlock.body.domain.options, {})
    await disableAndDelete(d.id)
  })

  test('RBAC: project members cannot manage domains; they see their own', async () => {
    const d = await create({ name: uniq('rbac') })
    const { token } = await memberOf(d.id)
    const other = await create({ name: uniq('other') })
    assert.equal((await req(h, 'POST', '/v3/domains', { token, body: { domain: { name: uniq('no') } } })).status, 403)
    assert.equal((await req(h, 'PATCH', `/v3/domains/${d.id}`, { token, body: { domain: { description: 'x' } } })).status, 403)
    assert.equal((await req(h, 'DELETE', `/v3/domains/${other.id}`, { token })).status, 403)
    const list = await req(h, 'GET', '/v3/domains', { token })
    assert.equal(list.status, 403)
    assert.equal(list.body.error.message, 'You are not authorized to perform the requested action: identity:list_domains.')
    assert.equal((await req(h, 'GET', `/v3/domains/${d.id}`, { token })).status, 200)
    assert.equal((await req(h, 'GET', `/v3/domains/${other.id}`, { token })).status, 403)
    assert.equal((await req(h, 'GET', '/v3/domains', { token: null })).status, 401)
    await disableAndDelete(d.id)
    await disableAndDelete(other.id)
  })

  test('RBAC: a domain-scoped admin lists only its own domain', async () => {
    const d = await create({ name: uniq('dadm') })
    const user = await makeUser(h, { domainId: d.id })
    await grant(h, { user, domain: d.id, role: 'admin' })
    const token = await h.login(user, PASSWORD, { domain: { id: d.id } })
    const list = await req(h, 'GET', '/v3/domains', { token })
    assert.equal(list.status, 200)
    assert.deepEqual(list.body.domains.map((x: { id: string }) => x.id), [d.id])
    // A domain reader (not admin) may not list domains (admin or system reader only).
    const reader = await makeUser(h, { domainId: d.id })
    await grant(h, { user: reader, domain: d.id, role: 'reader' })
    const rt = await h.login(reader, PASSWORD, { domain: { id: d.id } })
    assert.equal((await req(h, 'GET', '/v3/domains', { token: rt })).status, 403)
    assert.equal((await req(h, 'GET', `/v3/domains/${d.id}`, { token: rt })).status, 200)
    await disableAndDelete(d.id)
  })

  test('disabling a domain revokes the tokens of its users and projects', async () => {
    const d = await create({ name: uniq('rev') })
    const { token, project } = await memberOf(d.id)
    assert.equal((await req(h, 'GET', `/v3/projects/${project.id}`, { token })).status, 200)
    assert.equal((await req(h, 'PATCH', `/v3/domains/${d.id}`, { body: { domain: { enabled: false } } })).status, 200)
    assert.equal((await req(h, 'GET', `/v3/projects/${project.id}`, { token })).status, 401)
    // Enabling again does not bring old tokens back.
    assert.equal((await req(h, 'PATCH', `/v3/domains/${d.id}`, { body: { domain: { enabled: true } } })).status, 200)
    assert.equal((await req(h, 'GET', `/v3/projects/${project.id}`, { token })).status, 401)
    await disableAndDelete(d.id)
  })

  test('deleting a domain removes everything it owns, and only that', async () => {
    const db = h.identity.ctx.db
    const d = await create({ name: uniq('casc') })
    const keep = (await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('keep') } } })).body.project
    const top = (await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('top'), domain_id: d.id, tags: ['x'] } } })).body.project
    const child = (await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('child'), parent_id: top.id } } })).body.project
    assert.equal(child.domain_id, d.id)
    const user = await makeUser(h, { domainId: d.id })
    const outsider = await makeUser(h)
    const group = await makeGroup(h, d.id, [user, outsider])
    const drole = await makeDomainRole(h, d.id, 'reader')
    await grant(h, { user, project: top.id, role: 'member' })
    await grant(h, { user, project: keep.id, role: 'member' })
    await grant(h, { group, project: keep.id, role: 'reader' })
    await grant(h, { user: outsider, project: child.id, role: 'member' })
    await grant(h, { user: outsider, domain: d.id, role: 'reader' })
    await grant(h, { user: outsider, project: keep.id, role: drole, roleIsId: true })
    await grant(h, { user: outsider, project: keep.id, role: 'reader' })
    await db.insertInto('credentials').values({ id: uniq('cred'), user_id: user, project_id: null, type: 'ec2', blob: '{}',
      extra: '{}', created_at: new Date().toISOString() }).execute()
    await db.insertInto('credentials').values({ id: uniq('cred'), user_id: outsider, project_id: child.id, type: 'ec2', blob: '{}',
      extra: '{}', created_at: new Date().toISOString() }).execute()

    await disableAndDelete(d.id)
    assert.equal((await req(h, 'GET', `/v3/projects/${top.id}`)).status, 404)
    assert.equal((await req(h, 'GET', `/v3/projects/${child.id}`)).status, 404)
    assert.equal(await db.selectFrom('users').select('id').where('id', '=', user).executeTakeFirst(), undefined)
    assert.equal(await db.selectFrom('groups').select('id').where('id', '=', group).executeTakeFirst(), undefined)
    assert.equal(await db.selectFrom('roles').select('id').where('id', '=', drole).executeTakeFirst(), undefined)
    assert.equal((await db.selectFrom('project_tags').selectAll().where('project_id', '=', top.id).execute()).length, 0)
    const left = await db.selectFrom('assignments').selectAll()
      .where((eb) => eb.or([eb('actor_id', 'in', [user, group, outsider]), eb('target_id', 'in', [d.id, top.id, child.id])])).execute()
    // Only the outsider's global role on a project of another domain survives.
    assert.deepEqual(left.map((a) => [a.actor_id, a.target_id]), [[outsider, keep.id]])
    assert.equal((await db.selectFrom('user_groups').selectAll().where('user_id', '=', outsider).execute()).length, 0)
    assert.equal((await db.selectFrom('credentials').selectAll().where('user_id', 'in', [user, outsider]).execute()).length, 0)
    assert.ok(await db.selectFrom('users').select('id').where('id', '=', outsider).executeTakeFirst())
    assert.equal((await req(h, 'GET', `/v3/projects/${keep.id}`)).status, 200)
    assert.equal((await req(h, 'DELETE', `/v3/projects/${keep.id}`)).status, 204)
  })

  test('domains through the projects API (projects acting as domains)', async () => {
    const name = uniq('isdom')
    const c = await req(h, 'POST', '/v3/projects', { body: { project: { name, domain_id: null, is_domain: true, description: 'd' } } })
    assert.equal(c.status, 201)
    const p = c.body.project
    assert.deepEqual({ ...p, links: undefined, id: undefined }, { name, description: 'd', enabled: true, domain_id: null,
      parent_id: null, is_domain: true, tags: [], options: {}, links: undefined, id: undefined })
    assert.equal((await req(h, 'GET', `/v3/domains/${p.id}`)).body.domain.name, name)
    const listed = (await req(h, 'GET', '/v3/projects?is_domain=True')).body.projects
    assert.ok(listed.some((x: { id: string }) => x.id === p.id))
    assert.ok(listed.every((x: { is_domain: boolean }) => x.is_domain))
    assert.ok(!(await req(h, 'GET', '/v3/projects')).body.projects.some((x: { id: string }) => x.id === p.id))
    assert.deepEqual((await req(h, 'GET', `/v3/projects/${p.id}`)).body.project, p)
    assert.equal((await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('x'), is_domain: true, domain_id: 'default' } } })).status, 400)
    assert.equal((await req(h, 'POST', '/v3/projects', { body: { project: { name, is_domain: true } } })).status, 409)

    assert.equal((await req(h, 'DELETE', `/v3/projects/${p.id}`)).status, 403)
    assert.equal((await req(h, 'PATCH', `/v3/projects/${p.id}`, { body: { project: { is_domain: false } } })).status, 400)
    const off = await req(h, 'PATCH', `/v3/projects/${p.id}`, { body: { project: { enabled: false } } })
    assert.equal(off.status, 200)
    assert.equal(off.body.project.enabled, false)
    assert.equal(off.body.project.is_domain, true)
    assert.equal((await req(h, 'DELETE', `/v3/projects/${p.id}`)).status, 204)
    assert.equal((await req(h, 'GET', `/v3/domains/${p.id}`)).status, 404)
  })
})
