import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type IdentityHarness, identityHarness } from '../testing.ts'
import { projectsForUser } from '../projects-store.ts'
import { PASSWORD, grant, makeDomainRole, makeGroup, makeUser, req, uniq } from './resource-test-kit.ts'

type P = { id: string; name: string; domain_id: string; parent_id: string; enabled: boolean; tags: string[] }
const ids = (l: { id: string }[]) => l.map((x) => x.id)

describe('/v3/projects', () => {
  let h: IdentityHarness
  let dom: string
  before(async () => {
    h = await identityHarness()
    dom = (await req(h, 'POST', '/v3/domains', { body: { domain: { name: uniq('pdom') } } })).body.domain.id
  })
  after(async () => { await h.close() })

  const create = async (project: Record<string, unknown>, token?: string): Promise<P> => {
    const r = await req(h, 'POST', '/v3/projects', { body: { project: { domain_id: dom, ...project } }, token })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return r.body.project
  }
  /** A user with `role` on a project, and their token scoped to it. */
  const memberOn = async (projectId: string, role = 'member', domainId = dom) => {
    const user = await makeUser(h, { domainId })
    await grant(h, { user, project: projectId, role })
    return { user, token: await h.login(user, PASSWORD, { project: { id: projectId } }) }
  }

  test('create, show, update, list, delete with Keystone shapes', async () => {
    const name = uniq('p')
    const p = await create({ name, description: 'desc', tags: ['b', 'a'], contact: 'ops' })
    assert.deepEqual(p, { id: p.id, name, domain_id: dom, description: 'desc', enabled: true, parent_id: dom,
      is_domain: false, tags: ['a', 'b'], options: {}, contact: 'ops', links: { self: `http://localhost:80/v3/projects/${p.id}` } })
    const shown = (await req(h, 'GET', `/v3/projects/${p.id}`)).body.project
    assert.deepEqual(shown, p)
    const listed = (await req(h, 'GET', '/v3/projects')).body.projects.find((x: P) => x.id === p.id)
    assert.deepEqual(listed, shown)

    const u = await req(h, 'PATCH', `/v3/projects/${p.id}`, { body: { project: { name: `${name}-2`, description: 'new',
      enabled: false, tags: ['c'], contact: null, parent_id: dom, domain_id: dom } } })
    assert.equal(u.status, 200, JSON.stringify(u.body))
    assert.equal(u.body.project.name, `${name}-2`)
    assert.equal(u.body.project.description, 'new')
    assert.equal(u.body.project.enabled, false)
    assert.deepEqual(u.body.project.tags, ['c'])
    assert.equal(u.body.project.contact, null)
    assert.deepEqual((await req(h, 'GET', `/v3/projects/${p.id}`)).body.project, u.body.project)

    const d = await h.call('DELETE', `/v3/projects/${p.id}`)
    assert.equal(d.statusCode, 204)
    assert.equal(d.body, '')
    const gone = await req(h, 'GET', `/v3/projects/${p.id}`)
    assert.equal(gone.status, 404)
    assert.equal(gone.body.error.message, `Could not find project: ${p.id}.`)
  })

  test('domain_id defaults to the parent, the token domain, the token project domain, then Default', async () => {
    const viaAdmin = (await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('p') } } })).body.project
    assert.equal(viaAdmin.domain_id, 'default')
    const parent = await create({ name: uniq('parent') })
    const child = (await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('c'), parent_id: parent.id } } })).body.project
    assert.equal(child.domain_id, dom)
    assert.equal(child.parent_id, parent.id)
    const dadmin = await makeUser(h, { domainId: dom })
    await grant(h, { user: dadmin, domain: dom, role: 'admin' })
    const token = await h.login(dadmin, PASSWORD, { domain: { id: dom } })
    const viaDomain = (await req(h, 'POST', '/v3/projects', { token, body: { project: { name: uniq('p') } } })).body.project
    assert.equal(viaDomain.domain_id, dom)
    const inDom = await create({ name: uniq('pd') })
    const { token: pt } = await memberOn(inDom.id, 'admin')
    assert.equal((await req(h, 'POST', '/v3/projects', { token: pt, body: { project: { name: uniq('p') } } })).body.project.domain_id, dom)
    for (const p of [viaAdmin, child, parent, viaDomain, inDom]) assert.equal((await req(h, 'DELETE', `/v3/projects/${p.id}`)).status, 204)
  })

  test('hierarchy rules: same domain, existing parent, enabled branch, bounded depth', async () => {
    const other = (await req(h, 'POST', '/v3/domains', { body: { domain: { name: uniq('odom') } } })).body.domain.id
    const root = await create({ name: uniq('root') })
    const cross = await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('x'), domain_id: other, parent_id: root.id } } })
    assert.equal(cross.status, 400)
    assert.equal(cross.body.error.message, `Cannot create project, since it specifies its domain_id ${other}, ` +
      `but specifies a parent in a different domain (${dom}).`)
    const domParent = await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('x'), domain_id: other, parent_id: dom } } })
    assert.equal(domParent.status, 400)
    const viaDomParent = await create({ name: uniq('top'), parent_id: dom })
    assert.equal(viaDomParent.parent_id, dom)
    const noParent = await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('x'), parent_id: 'nope' } } })
    assert.equal(noParent.status, 400)
    assert.equal(noParent.body.error.message, 'Could not find project: nope.')
    const noDomain = await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('x'), domain_id: 'nope' } } })
    assert.equal(noDomain.status, 400)
    assert.equal(noDomain.body.error.message, 'Could not find domain: nope.')

    // Depth: five levels of projects under a domain, no more.
    let parent = root
    const chain = [root]
    for (let i = 2; i <= 5; i++) { parent = await create({ name: uniq(`l${i}`), parent_id: parent.id }); chain.push(parent) }
    const deep = await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('l6'), parent_id: parent.id } } })
    assert.equal(deep.status, 403)
    assert.equal(deep.body.error.message, `Max hierarchy depth reached for ${parent.id} branch.`)

    // A disabled project anywhere above refuses new children.
    const leaf = chain[4]!
    assert.equal((await req(h, 'PATCH', `/v3/projects/${leaf.id}`, { body: { project: { enabled: false } } })).status, 200)
    const under = await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('x'), parent_id: leaf.id } } })
    assert.equal(under.status, 400)
    assert.equal(under.body.error.message, `cannot create a project in a branch containing a disabled project: ${leaf.id}`)
    // Disabling needs a disabled subtree; enabling needs enabled parents.
    const mid = chain[3]!
    const dis = await req(h, 'PATCH', `/v3/projects/${chain[2]!.id}`, { body: { project: { enabled: false } } })
    assert.equal(dis.status, 403)
    assert.equal(dis.body.error.message, `Cannot disable project ${chain[2]!.id} since its subtree contains enabled projects.`)
    assert.equal((await req(h, 'PATCH', `/v3/projects/${mid.id}`, { body: { project: { enabled: false } } })).status, 200)
    const en = await req(h, 'PATCH', `/v3/projects/${leaf.id}`, { body: { project: { enabled: true } } })
    assert.equal(en.status, 403)
    assert.equal(en.body.error.message, `Cannot enable project ${leaf.id} since it has disabled parents`)
    assert.equal((await req(h, 'PATCH', `/v3/projects/${mid.id}`, { body: { project: { enabled: true } } })).status, 200)
    assert.equal((await req(h, 'PATCH', `/v3/projects/${leaf.id}`, { body: { project: { enabled: true } } })).status, 200)

    // A project with children cannot be deleted; leaves first.
    const notLeaf = await req(h, 'DELETE', `/v3/projects/${root.id}`)
    assert.equal(notLeaf.status, 403)
    assert.equal(notLeaf.body.error.message, `Cannot delete the project ${root.id} since it is not a leaf in the hierarchy. ` +
      'Use the cascade option if you want to delete a whole subtree.')
    for (const p of [...chain].reverse()) assert.equal((await req(h, 'DELETE', `/v3/projects/${p.id}`)).status, 204)
    assert.equal((await req(h, 'DELETE', `/v3/projects/${viaDomParent.id}`)).status, 204)

    // A disabled domain refuses new projects.
    assert.equal((await req(h, 'PATCH', `/v3/domains/${other}`, { body: { domain: { enabled: false } } })).status, 200)
    const inOff = await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('x'), domain_id: other } } })
    assert.equal(inOff.status, 400)
    assert.equal((await req(h, 'DELETE', `/v3/domains/${other}`)).status, 204)
  })

  test('what an update may not change', async () => {
    const a = await create({ name: uniq('a') })
    const b = await create({ name: uniq('b') })
    const cases: [Record<string, unknown>, number, string][] = [
      [{ domain_id: 'default' }, 400, 'Cannot change Domain ID'],
      [{ parent_id: b.id }, 403, 'Update of `parent_id` is not allowed.'],
      [{ is_domain: true }, 400, 'Update of `is_domain` is not allowed.'],
      [{ id: b.id }, 400, 'Cannot change ID'],
    ]
    for (const [project, status, message] of cases) {
      const r = await req(h, 'PATCH', `/v3/projects/${a.id}`, { body: { project } })
      assert.equal(r.status, status, JSON.stringify(project))
      assert.equal(r.body.error.message, message)
    }
    assert.deepEqual((await req(h, 'GET', `/v3/projects/${a.id}`)).body.project, a)
    for (const p of [a, b]) await req(h, 'DELETE', `/v3/projects/${p.id}`)
  })

  test('names are unique within a domain', async () => {
    const name = uniq('same')
    const a = await create({ name })
    const dup = await req(h, 'POST', '/v3/projects', { body: { project: { name, domain_id: dom } } })
    assert.equal(dup.status, 409)
    assert.match(dup.body.error.message, new RegExp(`^Conflict occurred attempting to store project - it is not permitted to have two projects with either the same name or same id in the same domain: name is ${name}, project id`))
    const elsewhere = (await req(h, 'POST', '/v3/projects', { body: { project: { name, domain_id: 'default' } } })).body.project
    assert.equal(elsewhere.name, name)
    const b = await create({ name: uniq('b') })
    assert.equal((await req(h, 'PATCH', `/v3/projects/${b.id}`, { body: { project: { name } } })).status, 409)
    assert.equal((await req(h, 'GET', `/v3/projects/${b.id}`)).body.project.name, b.name)
    for (const p of [a, elsewhere, b]) await req(h, 'DELETE', `/v3/projects/${p.id}`)
  })

  test('bad input is rejected with 400 and changes nothing', async () => {
    const name = uniq('bad')
    const bad: unknown[] = [
      { project: { name: '' } }, { project: { name: 'a'.repeat(65) } }, { project: { name: ' \t' } }, { project: {} },
      { project: { name, enabled: 'true' } }, { project: { name, is_domain: 1 } }, { project: { name, domain_id: 5 } },
      { project: { name, tags: 'a' } }, { project: { name, tags: ['a/b'] } }, { project: { name, tags: ['a', 'a'] } },
      { project: { name, tags: Array.from({ length: 81 }, (_, i) => `t${i}`) } }, { project: { name, options: { x: 1 } } },
      { project: { name, options: { immutable: 'yes' } } }, { project: { name }, other: true }, [], { project: null },
    ]
    for (const body of bad) {
      const r = await req(h, 'POST', '/v3/projects', { body })
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80))
      assert.equal(r.body.error.code, 400)
    }
    assert.equal((await h.call('POST', '/v3/projects', { body: '{"project": ' })).statusCode, 400)
    assert.equal((await req(h, 'GET', `/v3/projects?name=${name}`)).body.projects.length, 0)
    const p = await create({ name: uniq('ok') })
    for (const body of [{ project: {} }, { project: { name: '' } }, { project: { enabled: 'no' } }, { project: { tags: ['a,b'] } }, { x: 1 }]) {
      assert.equal((await req(h, 'PATCH', `/v3/projects/${p.id}`, { body })).status, 400, JSON.stringify(body))
    }
    assert.deepEqual((await req(h, 'GET', `/v3/projects/${p.id}`)).body.project, p)
    for (const m of ['GET', 'DELETE']) assert.equal((await req(h, m, '/v3/projects/nope')).status, 404)
    assert.equal((await req(h, 'PATCH', '/v3/projects/nope', { body: { project: { name: 'x' } } })).status, 404)
    await req(h, 'DELETE', `/v3/projects/${p.id}`)
  })

  test('list filters: domain_id, enabled, name, parent_id, is_domain and tags', async () => {
    const a = await create({ name: uniq('fa'), tags: ['red', 'big'] })
    const b = await create({ name: uniq('fb'), tags: ['red'], enabled: false })
    const c = await create({ name: uniq('fc'), parent_id: a.id, tags: ['blue'] })
    const list = async (q: string) => ids((await req(h, 'GET', `/v3/projects?${q}`)).body.projects)
    const mine = (l: string[]) => l.filter((x) => [a.id, b.id, c.id].includes(x)).sort()
    const sorted = (...l: P[]) => ids(l).sort()
    assert.deepEqual(mine(await list(`domain_id=${dom}`)), sorted(a, b, c))
    assert.ok(!(await list('domain_id=default')).includes(a.id))
    assert.deepEqual(mine(await list(`domain_id=${dom}&enabled=False`)), sorted(b))
    assert.deepEqual(mine(await list(`domain_id=${dom}&enabled=true`)), sorted(a, c))
    assert.deepEqual(await list(`name=${a.name}`), [a.id])
    assert.deepEqual(mine(await list(`parent_id=${dom}`)), sorted(a, b))
    assert.deepEqual(await list(`parent_id=${a.id}`), [c.id])
    assert.deepEqual(mine(await list('is_domain=false')), sorted(a, b, c))
    assert.deepEqual(mine(await list('is_domain=true')), [])
    assert.deepEqual(mine(await list('tags=red')), sorted(a, b))
    assert.deepEqual(mine(await list('tags=red,big')), sorted(a))
    assert.deepEqual(mine(await list('tags-any=big,blue')), sorted(a, c))
    assert.deepEqual(mine(await list(`domain_id=${dom}&not-tags=red,big`)), sorted(b, c))
    assert.deepEqual(mine(await list(`domain_id=${dom}&not-tags-any=big,blue`)), sorted(b))
    assert.deepEqual(mine(await list('tags=red&not-tags-any=big')), sorted(b))
    for (const p of [c, b, a]) await req(h, 'DELETE', `/v3/projects/${p.id}`)
  })

  test('RBAC: members read their own project only; listing and writes need admin', async () => {
    const a = await create({ name: uniq('ra') })
    const b = await create({ name: uniq('rb') })
    const { token } = await memberOn(a.id)
    assert.equal((await req(h, 'GET', `/v3/projects/${a.id}`, { token })).status, 200)
    assert.equal((await req(h, 'GET', `/v3/projects/${b.id}`, { token })).status, 403)
    assert.equal((await req(h, 'GET', '/v3/projects', { token })).status, 403)
    assert.equal((await req(h, 'POST', '/v3/projects', { token, body: { project: { name: uniq('x'), domain_id: dom } } })).status, 403)
    assert.equal((await req(h, 'PATCH', `/v3/projects/${a.id}`, { token, body: { project: { description: 'x' } } })).status, 403)
    assert.equal((await req(h, 'DELETE', `/v3/projects/${a.id}`, { token })).status, 403)
    assert.equal((await req(h, 'DELETE', `/v3/projects/${b.id}`, { token })).status, 403)
    assert.equal((await req(h, 'GET', `/v3/projects/${b.id}`, { token: null })).status, 401)
    assert.equal((await req(h, 'GET', `/v3/projects/${b.id}`)).status, 200)

    // A domain reader lists its domain's projects and nothing else, and cannot write.
    const reader = await makeUser(h, { domainId: dom })
    await grant(h, { user: reader, domain: dom, role: 'reader' })
    const rt = await h.login(reader, PASSWORD, { domain: { id: dom } })
    const listed = (await req(h, 'GET', '/v3/projects', { token: rt })).body.projects as P[]
    assert.ok(listed.some((p) => p.id === a.id) && listed.some((p) => p.id === b.id))
    assert.ok(listed.every((p) => p.domain_id === dom))
    assert.equal((await req(h, 'GET', `/v3/projects/${b.id}`, { token: rt })).status, 200)
    assert.equal((await req(h, 'POST', '/v3/projects', { token: rt, body: { project: { name: uniq('x'), domain_id: dom } } })).status, 403)

    // A domain admin manages its own domain's projects, not another domain's.
    const dadmin = await makeUser(h, { domainId: dom })
    await grant(h, { user: dadmin, domain: dom, role: 'admin' })
    const at = await h.login(dadmin, PASSWORD, { domain: { id: dom } })
    const made = await create({ name: uniq('byda') }, at)
    assert.equal((await req(h, 'PATCH', `/v3/projects/${made.id}`, { token: at, body: { project: { description: 'y' } } })).status, 200)
    assert.equal((await req(h, 'DELETE', `/v3/projects/${made.id}`, { token: at })).status, 204)
    for (const p of [a, b]) await req(h, 'DELETE', `/v3/projects/${p.id}`)
  })

  test('disabling or deleting a project revokes tokens scoped to it and removes its assignments', async () => {
    const p = await create({ name: uniq('rev') })
    const { token, user } = await memberOn(p.id)
    const other = await create({ name: uniq('rev2') })
    await grant(h, { user, project: other.id, role: 'member' })
    const otherToken = await h.login(user, PASSWORD, { project: { id: other.id } })
    assert.equal((await req(h, 'GET', `/v3/projects/${p.id}`, { token })).status, 200)
    assert.equal((await req(h, 'PATCH', `/v3/projects/${p.id}`, { body: { project: { enabled: false } } })).status, 200)
    assert.equal((await req(h, 'GET', `/v3/projects/${p.id}`, { token })).status, 401)
    assert.equal((await req(h, 'GET', `/v3/projects/${other.id}`, { token: otherToken })).status, 200)
    await assert.rejects(h.login(user, PASSWORD, { project: { id: p.id } }))

    assert.equal((await req(h, 'DELETE', `/v3/projects/${other.id}`)).status, 204)
    assert.equal((await req(h, 'GET', `/v3/projects/${other.id}`, { token: otherToken })).status, 401)
    const left = await h.identity.ctx.db.selectFrom('assignments').selectAll().where('target_id', '=', other.id).execute()
    assert.deepEqual(left, [])
    await req(h, 'DELETE', `/v3/projects/${p.id}`)
  })

  test('an immutable project cannot change or go until made mutable', async () => {
    const p = await create({ name: uniq('imm'), options: { immutable: true } })
    assert.deepEqual(p.tags, [])
    const up = await req(h, 'PATCH', `/v3/projects/${p.id}`, { body: { project: { description: 'x' } } })
    assert.equal(up.status, 403)
    assert.equal(up.body.error.message, `Unable to update immutable project resource: \`${p.id}. Set resource option "immutable" to false first.`)
    assert.equal((await req(h, 'PUT', `/v3/projects/${p.id}/tags/t`)).status, 403)
    assert.equal((await req(h, 'DELETE', `/v3/projects/${p.id}`)).status, 403)
    const ok = await req(h, 'PATCH', `/v3/projects/${p.id}`, { body: { project: { options: { immutable: false } } } })
    assert.equal(ok.status, 200)
    assert.deepEqual(ok.body.project.options, { immutable: false })
    assert.equal((await req(h, 'DELETE', `/v3/projects/${p.id}`)).status, 204)
  })

  test('tags API', async () => {
    const p = await create({ name: uniq('tags') })
    const base = `/v3/projects/${p.id}/tags`
    const put = await h.call('PUT', `${base}/one`, { body: {} })
    assert.equal(put.statusCode, 201)
    assert.equal(put.body, '')
    assert.equal(put.headers.location, `http://localhost:80${base}/one`)
    assert.equal((await h.call('GET', `${base}/one`)).statusCode, 204)
    const missing = await req(h, 'GET', `${base}/two`)
    assert.equal(missing.status, 404)
    assert.equal(missing.body.error.message, 'Could not find project tag: two.')
    assert.equal((await req(h, 'PUT', `${base}/one`)).status, 400)
    for (const bad of ['a%2Cb', 'a%2Fb', 'x'.repeat(256)]) assert.equal((await req(h, 'PUT', `${base}/${bad}`)).status, 400, bad)

    const all = await req(h, 'PUT', base, { body: { tags: ['z', 'y', ' x '] } })
    assert.equal(all.status, 200)
    assert.deepEqual(all.body, { tags: ['z', 'y', 'x'], links: { self: `http://localhost:80${base}` } })
    assert.deepEqual((await req(h, 'GET', base)).body.tags, ['x', 'y', 'z'])
    assert.deepEqual((await req(h, 'GET', `/v3/projects/${p.id}`)).body.project.tags, ['x', 'y', 'z'])
    for (const body of [{ tags: ['a', 'a'] }, { tags: ['a/b'] }, { tags: 'a' }, { tags: [] , more: 1 }, { tags: Array.from({ length: 81 }, (_, i) => `t${i}`) }]) {
      assert.equal((await req(h, 'PUT', base, { body })).status, 400, JSON.stringify(body).slice(0, 60))
    }
    assert.deepEqual((await req(h, 'GET', base)).body.tags, ['x', 'y', 'z'])
    assert.equal((await req(h, 'PUT', base, { body: { tags: Array.from({ length: 80 }, (_, i) => `t${i}`) } })).status, 200)
    assert.equal((await req(h, 'PUT', `${base}/t80`)).status, 400)
    assert.equal((await h.call('DELETE', `${base}/t0`)).statusCode, 204)
    assert.equal((await req(h, 'DELETE', `${base}/t0`)).status, 404)
    assert.equal((await h.call('DELETE', base)).statusCode, 204)
    assert.deepEqual((await req(h, 'GET', base)).body.tags, [])
    assert.equal((await req(h, 'GET', '/v3/projects/nope/tags')).status, 404)

    // A member reads the tags of their project; changing them needs admin on it.
    const { token } = await memberOn(p.id)
    assert.equal((await req(h, 'GET', base, { token })).status, 200)
    assert.equal((await req(h, 'PUT', `${base}/m`, { token })).status, 403)
    assert.equal((await req(h, 'PUT', base, { token, body: { tags: [] } })).status, 403)
    const q = await create({ name: uniq('other') })
    assert.equal((await req(h, 'GET', `/v3/projects/${q.id}/tags`, { token })).status, 403)
    const { token: adminOnP } = await memberOn(p.id, 'admin')
    assert.equal((await req(h, 'PUT', `${base}/m`, { token: adminOnP })).status, 201)
    for (const x of [p, q]) await req(h, 'DELETE', `/v3/projects/${x.id}`)
    assert.equal((await h.identity.ctx.db.selectFrom('project_tags').selectAll().where('project_id', '=', p.id).execute()).length, 0)
  })

  test('parents and subtree as lists and as ids', async () => {
    const a = await create({ name: uniq('A') })
    const b = await create({ name: uniq('B'), parent_id: a.id })
    const c = await create({ name: uniq('C'), parent_id: b.id })
    const d = await create({ name: uniq('D'), parent_id: b.id })
    const get = async (id: string, q: string, token?: string) => (await req(h, 'GET', `/v3/projects/${id}?${q}`, { token })).body.project
    assert.deepEqual((await get(c.id, 'parents_as_ids')).parents, { [b.id]: { [a.id]: { [dom]: null } } })
    assert.deepEqual((await get(a.id, 'parents_as_ids')).parents, { [dom]: null })
    assert.deepEqual((await get(a.id, 'subtree_as_ids')).subtree, { [b.id]: { [c.id]: null, [d.id]: null } })
    assert.equal((await get(c.id, 'subtree_as_ids')).subtree, null)
    assert.equal((await get(c.id, 'subtree_as_ids=0')).subtree, undefined)
    assert.deepEqual((await get(dom, 'subtree_as_ids')).subtree[a.id], { [b.id]: { [c.id]: null, [d.id]: null } })
    const both = await req(h, 'GET', `/v3/projects/${c.id}?parents_as_list&parents_as_ids`)
    assert.equal(both.status, 400)
    assert.equal(both.body.error.message, 'Cannot use parents_as_list and parents_as_ids query params at the same time.')
    assert.equal((await req(h, 'GET', `/v3/projects/${a.id}?subtree_as_list&subtree_as_ids`)).status, 400)

    // The lists hold only projects the caller has a role on.
    const user = await makeUser(h, { domainId: dom })
    await grant(h, { user, project: c.id, role: 'member' })
    await grant(h, { user, project: a.id, role: 'reader' })
    await grant(h, { user, project: b.id, role: 'admin' })
    const token = await h.login(user, PASSWORD, { project: { id: b.id } })
    const parents = (await get(c.id, 'parents_as_list', token)).parents
    assert.deepEqual(parents.map((x: { project: P }) => x.project.id), [b.id, a.id])
    assert.deepEqual(parents[0].project, (await req(h, 'GET', `/v3/projects/${b.id}`)).body.project)
    assert.deepEqual((await get(a.id, 'subtree_as_list', token)).subtree.map((x: { project: P }) => x.project.id), [b.id, c.id])
    assert.deepEqual((await get(c.id, 'parents_as_list')).parents, [])
    for (const x of [d, c, b, a]) await req(h, 'DELETE', `/v3/projects/${x.id}`)
  })

  test('GET /v3/users/{id}/projects: effective assignments, filters and policy', async () => {
    const top = await create({ name: uniq('top') })
    const mid = await create({ name: uniq('mid'), parent_id: top.id })
    const low = await create({ name: uniq('low'), parent_id: mid.id })
    const direct = await create({ name: uniq('direct'), enabled: false })
    const viaGroup = await create({ name: uniq('group') })
    const viaDomRole = await create({ name: uniq('drole') })
    const useless = await create({ name: uniq('useless') })
    const otherDom = (await req(h, 'POST', '/v3/domains', { body: { domain: { name: uniq('inh') } } })).body.domain.id
    const inherited = (await req(h, 'POST', '/v3/projects', { body: { project: { name: uniq('inh'), domain_id: otherDom } } })).body.project
    const user = await makeUser(h, { domainId: dom })
    const group = await makeGroup(h, dom, [user])
    await grant(h, { user, project: direct.id, role: 'member' })
    await grant(h, { group, project: viaGroup.id, role: 'reader' })
    await grant(h, { user, project: top.id, role: 'member', inherited: true })
    await grant(h, { group, domain: otherDom, role: 'member', inherited: true })
    await grant(h, { user, domain: dom, role: 'admin' }) // not inherited: reaches no project
    await grant(h, { user, project: viaDomRole.id, role: await makeDomainRole(h, dom, 'reader'), roleIsId: true })
    await grant(h, { user, project: useless.id, role: await makeDomainRole(h, dom), roleIsId: true })

    const expected = [direct, viaGroup, mid, low, viaDomRole, inherited].map((p) => p.id).sort()
    const r = await req(h, 'GET', `/v3/users/${user}/projects`)
    assert.equal(r.status, 200)
    assert.deepEqual(ids(r.body.projects).sort(), expected)
    assert.deepEqual(ids(await projectsForUser(h.identity.ctx.db, user)).sort(), expected)
    assert.equal(r.body.links.self, `http://localhost:80/v3/users/${user}/projects`)
    assert.deepEqual(r.body.projects.find((p: P) => p.id === direct.id), (await req(h, 'GET', `/v3/projects/${direct.id}`)).body.project)
    const f = async (q: string) => ids((await req(h, 'GET', `/v3/users/${user}/projects?${q}`)).body.projects).sort()
    assert.deepEqual(await f('enabled=false'), [direct.id])
    assert.deepEqual(await f(`name=${mid.name}`), [mid.id])
    assert.deepEqual(await f(`domain_id=${otherDom}`), [inherited.id])

    // The user may list their own projects and get a token for each enabled one.
    const token = await h.login(user, PASSWORD, { project: { id: viaGroup.id } })
    const own = await req(h, 'GET', `/v3/users/${user}/projects`, { token })
    assert.equal(own.status, 200)
    for (const p of own.body.projects as P[]) {
      if (p.enabled) assert.ok(await h.login(user, PASSWORD, { project: { name: p.name, domain: { id: p.domain_id } } }))
    }
    await assert.rejects(h.login(user, PASSWORD, { project: { id: top.id } }))
    // Another non-admin may not; an admin gets 404 for an unknown user.
    const { token: stranger } = await memberOn(direct.id === top.id ? mid.id : top.id)
    assert.equal((await req(h, 'GET', `/v3/users/${user}/projects`, { token: stranger })).status, 403)
    const nouser = await req(h, 'GET', '/v3/users/0123456789abcdef0123456789abcdef/projects')
    assert.equal(nouser.status, 404)
    assert.equal(nouser.body.error.message, 'Could not find user: 0123456789abcdef0123456789abcdef.')
    assert.equal((await req(h, 'GET', '/v3/users/0123456789abcdef0123456789abcdef/projects', { token: stranger })).status, 403)
    // Removing the group membership removes what came through the group.
    await h.identity.ctx.db.deleteFrom('user_groups').where('user_id', '=', user).execute()
    assert.deepEqual(await f(''), [direct, mid, low, viaDomRole].map((p) => p.id).sort())
  })
})
