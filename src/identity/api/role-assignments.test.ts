import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { PASSWORD, fixtures } from '../assignments-testkit.ts'
import { type IdentityHarness, identityHarness } from '../testing.ts'

const V3 = 'http://localhost:80/v3'

interface RA {
  role: { id: string; name?: string; domain?: { id: string; name: string } }
  user?: { id: string; name?: string; domain?: { id: string; name: string } }
  group?: { id: string; name?: string }
  scope: { project?: { id: string; name?: string; domain?: { id: string; name: string } }; domain?: { id: string; name?: string };
    system?: { all: true }; 'OS-INHERIT:inherited_to'?: string }
  links: { assignment: string; membership?: string; prior_role?: string }
}

describe('role assignments API', () => {
  let h: IdentityHarness
  let fx: ReturnType<typeof fixtures>
  before(async () => { h = await identityHarness(); fx = fixtures(h) })
  after(async () => { await h.close() })

  async function list(query: string, token?: string): Promise<RA[]> {
    const r = await h.call('GET', `/v3/role_assignments?${query}`, { token })
    assert.equal(r.statusCode, 200, `${query}: ${r.body}`)
    assert.ok(r.json().links.self.includes('/v3/role_assignments'))
    return r.json().role_assignments
  }
  /** A compact, order-free picture of a listing: "actor@scope:role". */
  const brief = (ras: RA[]) => ras.map((a) => `${a.user ? 'u:' + a.user.id : 'g:' + a.group!.id}@${
    a.scope.project ? 'p:' + a.scope.project.id : a.scope.domain ? 'd:' + a.scope.domain.id : 'system'}${
    a.scope['OS-INHERIT:inherited_to'] ? '+inh' : ''}:${a.role.id}`).sort()

  describe('direct listing', () => {
    it('lists with each filter, in Keystone\'s shape and links', async () => {
      const d = await fx.domain()
      const p = await fx.project({ domainId: d })
      const [u, r1, r2] = [await fx.user(), await fx.role(), await fx.role()]
      const g = await fx.group()
      await fx.grant(`/projects/${p}/users/${u}/roles/${r1}`)
      await fx.grant(`/domains/${d}/users/${u}/roles/${r2}`)
      await fx.grant(`/OS-INHERIT/domains/${d}/users/${u}/roles/${r1}/inherited_to_projects`)
      await fx.grant(`/system/users/${u}/roles/${r2}`)
      await fx.grant(`/projects/${p}/groups/${g}/roles/${r2}`)

      const mine = await list(`user.id=${u}`)
      assert.deepEqual(brief(mine), [`u:${u}@d:${d}+inh:${r1}`, `u:${u}@d:${d}:${r2}`, `u:${u}@p:${p}:${r1}`, `u:${u}@system:${r2}`].sort())
      const onProject = mine.find((a) => a.scope.project)!
      assert.deepEqual(onProject, { links: { assignment: `${V3}/projects/${p}/users/${u}/roles/${r1}` },
        scope: { project: { id: p } }, user: { id: u }, role: { id: r1 } })
      const inh = mine.find((a) => a.scope['OS-INHERIT:inherited_to'])!
      assert.deepEqual(inh.scope, { domain: { id: d }, 'OS-INHERIT:inherited_to': 'projects' })
      assert.equal(inh.links.assignment, `${V3}/OS-INHERIT/domains/${d}/users/${u}/roles/${r1}/inherited_to_projects`)
      const sys = mine.find((a) => a.scope.system)!
      assert.deepEqual(sys.scope, { system: { all: true } })
      assert.equal(sys.links.assignment, `${V3}/system/users/${u}/roles/${r2}`)

      assert.deepEqual(brief(await list(`scope.project.id=${p}`)), [`g:${g}@p:${p}:${r2}`, `u:${u}@p:${p}:${r1}`].sort())
      const grp = await list(`group.id=${g}`)
      assert.deepEqual(grp[0]!.links, { assignment: `${V3}/projects/${p}/groups/${g}/roles/${r2}` })
      assert.deepEqual(brief(await list(`scope.domain.id=${d}`)), [`u:${u}@d:${d}+inh:${r1}`, `u:${u}@d:${d}:${r2}`].sort())
      assert.deepEqual(brief(await list(`scope.domain.id=${d}&scope.OS-INHERIT:inherited_to=projects`)), [`u:${u}@d:${d}+inh:${r1}`])
      assert.deepEqual(brief(await list(`user.id=${u}&role.id=${r2}`)), [`u:${u}@d:${d}:${r2}`, `u:${u}@system:${r2}`].sort())
      assert.deepEqual(brief(await list(`user.id=${u}&scope.system=all`)), [`u:${u}@system:${r2}`])
      assert.ok(brief(await list(`role.id=${r1}`)).length === 2)
      // The admin's bootstrap assignments are there too, unfiltered.
      const all = await list('')
      assert.ok(all.some((a) => a.user?.id === h.adminUserId && a.scope.project?.id === h.adminProjectId))
    })

    it('include_names adds names of users, groups, roles, projects and domains', async () => {
      const d = await fx.domain()
      const p = await fx.project({ domainId: d })
      const u = await fx.user({ domainId: d })
      const g = await fx.group({ domainId: d })
      const dr = await fx.role({ domainId: d })
      const r = await fx.role()
      await fx.grant(`/projects/${p}/users/${u}/roles/${dr}`)
      await fx.grant(`/domains/${d}/groups/${g}/roles/${r}`)
      const names = async (table: 'users' | 'groups' | 'projects' | 'roles' | 'domains', id: string) =>
        (await fx.db.selectFrom(table).select('name').where('id', '=', id).executeTakeFirstOrThrow()).name
      const dom = { id: d, name: await names('domains', d) }
      const got = await list(`scope.project.id=${p}&include_names`)
      assert.deepEqual(got, [{
        links: { assignment: `${V3}/projects/${p}/users/${u}/roles/${dr}` },
        scope: { project: { id: p, name: await names('projects', p), domain: dom } },
        user: { id: u, name: await names('users', u), domain: dom },
        role: { id: dr, name: await names('roles', dr), domain: dom },
      }])
      const onDomain = await list(`scope.domain.id=${d}&include_names=1`)
      assert.deepEqual(onDomain[0]!.scope, { domain: dom })
      assert.deepEqual(onDomain[0]!.group, { id: g, name: await names('groups', g), domain: dom })
      assert.deepEqual(onDomain[0]!.role, { id: r, name: await names('roles', r) })
      assert.deepEqual((await list(`scope.domain.id=${d}&include_names=0`))[0]!.role, { id: r })
    })

    it('include_subtree lists the project and everything below it', async () => {
      const top = await fx.project()
      const mid = await fx.project({ parentId: top })
      const leaf = await fx.project({ parentId: mid })
      const other = await fx.project()
      const [u, r] = [await fx.user(), await fx.role()]
      for (const p of [top, mid, leaf, other]) await fx.grant(`/projects/${p}/users/${u}/roles/${r}`)
      assert.deepEqual(brief(await list(`scope.project.id=${mid}&include_subtree=True`)), [`u:${u}@p:${leaf}:${r}`, `u:${u}@p:${mid}:${r}`].sort())
      assert.deepEqual(brief(await list(`scope.project.id=${top}&include_subtree`)).length, 3)
      const noProject = await h.call('GET', '/v3/role_assignments?include_subtree=True')
      assert.equal(noProject.statusCode, 400)
      assert.equal(noProject.json().error.message, 'scope.project.id must be specified if include_subtree is also specified')
      const unknown = await h.call('GET', '/v3/role_assignments?include_subtree&scope.project.id=nosuch')
      assert.equal(unknown.statusCode, 404)
      assert.equal(unknown.json().error.message, 'Could not find project: nosuch.')
    })
  })

  describe('effective listing', () => {
    it('expands groups into their members, with the membership link', async () => {
      const p = await fx.project()
      const [u1, u2, r] = [await fx.user(), await fx.user(), await fx.role()]
      const g = await fx.group({ members: [u1, u2] })
      await fx.grant(`/projects/${p}/groups/${g}/roles/${r}`)
      const all = await list(`scope.project.id=${p}&effective`)
      assert.deepEqual(brief(all), [`u:${u1}@p:${p}:${r}`, `u:${u2}@p:${p}:${r}`].sort())
      const one = all.find((a) => a.user!.id === u1)!
      assert.deepEqual(one.links, {
        assignment: `${V3}/projects/${p}/groups/${g}/roles/${r}`,
        membership: `${V3}/groups/${g}/users/${u1}`,
      })
      assert.deepEqual(brief(await list(`user.id=${u2}&effective=true`)), [`u:${u2}@p:${p}:${r}`])
      // Without effective the group assignment itself is listed.
      assert.deepEqual(brief(await list(`scope.project.id=${p}`)), [`g:${g}@p:${p}:${r}`])
      assert.deepEqual(brief(await list(`scope.project.id=${p}&effective=0`)), [`g:${g}@p:${p}:${r}`])
    })

    it('places inherited domain assignments on every project of the domain (Tempest\'s inherits tests)', async () => {
      const d = await fx.domain()
      const parent = await fx.project({ domainId: d })
      const leaf = await fx.project({ domainId: d, parentId: parent })
      const [u, r] = [await fx.user({ domainId: d }), await fx.role()]
      const inh = `/v3/OS-INHERIT/domains/${d}/users/${u}/roles/${r}/inherited_to_projects`
      assert.equal((await h.call('PUT', inh)).statusCode, 204)
      for (const p of [parent, leaf]) {
        const got = await list(`scope.project.id=${p}&user.id=${u}&effective`)
        assert.equal(got.length, 1)
        assert.deepEqual(got[0], { links: { assignment: `http://localhost:80${inh}` }, user: { id: u }, role: { id: r },
          scope: { project: { id: p }, 'OS-INHERIT:inherited_to': 'projects' } })
      }
      assert.deepEqual(brief(await list(`user.id=${u}&effective`)), [`u:${u}@p:${leaf}+inh:${r}`, `u:${u}@p:${parent}+inh:${r}`].sort())
      assert.deepEqual(await list(`user.id=${u}&effective&scope.OS-INHERIT:inherited_to=foo`), [])
      assert.equal((await h.call('DELETE', inh)).statusCode, 204)
      for (const p of [parent, leaf]) assert.deepEqual(await list(`scope.project.id=${p}&user.id=${u}&effective`), [])
    })

    it('places inherited project assignments on the subtree only', async () => {
      const top = await fx.project()
      const mid = await fx.project({ parentId: top })
      const leaf = await fx.project({ parentId: mid })
      const [u, r] = [await fx.user(), await fx.role()]
      const g = await fx.group({ members: [u] })
      await fx.grant(`/OS-INHERIT/projects/${mid}/groups/${g}/roles/${r}/inherited_to_projects`)
      assert.deepEqual(await list(`scope.project.id=${mid}&user.id=${u}&effective`), [])
      const onLeaf = await list(`scope.project.id=${leaf}&user.id=${u}&effective`)
      assert.deepEqual(onLeaf, [{
        links: { assignment: `${V3}/OS-INHERIT/projects/${mid}/groups/${g}/roles/${r}/inherited_to_projects`, membership: `${V3}/groups/${g}/users/${u}` },
        user: { id: u }, role: { id: r }, scope: { project: { id: leaf }, 'OS-INHERIT:inherited_to': 'projects' },
      }])
      assert.deepEqual(brief(await list(`user.id=${u}&effective`)), [`u:${u}@p:${leaf}+inh:${r}`])
      assert.deepEqual(brief(await list(`scope.project.id=${top}&include_subtree&effective`)), [`u:${u}@p:${leaf}+inh:${r}`])
      assert.deepEqual(brief(await list(`scope.project.id=${leaf}&effective`)), [`u:${u}@p:${leaf}+inh:${r}`])
    })

    it('adds implied roles with the prior_role link, and drops domain-specific roles (Tempest\'s role tests)', async () => {
      const d = await fx.domain()
      const p = await fx.project({ domainId: d })
      const u = await fx.user()
      const [r0, r1, r2] = [await fx.role(), await fx.role(), await fx.role()]
      await fx.grant(`/projects/${p}/users/${u}/roles/${r0}`)
      assert.equal((await h.call('PUT', `/v3/roles/${r0}/implies/${r1}`)).statusCode, 201)
      assert.equal((await h.call('PUT', `/v3/roles/${r1}/implies/${r2}`)).statusCode, 201)
      const got = await list(`scope.project.id=${p}&user.id=${u}&effective`)
      assert.deepEqual(got.map((a) => a.role.id).sort(), [r0, r1, r2].sort())
      const viaR1 = got.find((a) => a.role.id === r2)!
      assert.deepEqual(viaR1.links, { assignment: `${V3}/projects/${p}/users/${u}/roles/${r1}`, prior_role: `${V3}/prior_role/${r2}/implies/${r1}` })
      assert.deepEqual((await list(`scope.project.id=${p}&user.id=${u}&effective&role.id=${r2}`)).map((a) => a.role.id), [r2])
      assert.equal((await h.call('DELETE', `/v3/roles/${r0}/implies/${r1}`)).statusCode, 204)
      assert.deepEqual((await list(`scope.project.id=${p}&user.id=${u}&effective`)).map((a) => a.role.id), [r0])

      // A domain-specific role is never effective itself; what it implies is.
      const dr = await fx.role({ domainId: d })
      const u2 = await fx.user()
      await fx.grant(`/projects/${p}/users/${u2}/roles/${dr}`)
      assert.deepEqual(await list(`scope.project.id=${p}&user.id=${u2}&effective`), [])
      assert.equal((await list(`scope.project.id=${p}&user.id=${u2}`)).length, 1)
      assert.equal((await h.call('PUT', `/v3/roles/${dr}/implies/${r1}`)).statusCode, 201)
      const ids = (await list(`scope.project.id=${p}&user.id=${u2}&effective`)).map((a) => a.role.id).sort()
      assert.deepEqual(ids, [r1, r2].sort())
    })

    it('ends implication cycles', async () => {
      const p = await fx.project()
      const u = await fx.user()
      const [a, b] = [await fx.role(), await fx.role()]
      await fx.grant(`/projects/${p}/users/${u}/roles/${a}`)
      await h.call('PUT', `/v3/roles/${a}/implies/${b}`)
      await h.call('PUT', `/v3/roles/${b}/implies/${a}`)
      const got = await list(`scope.project.id=${p}&user.id=${u}&effective`)
      assert.deepEqual([...new Set(got.map((x) => x.role.id))].sort(), [a, b].sort())
      assert.ok(got.length <= 3)
      const token = await h.login(u, PASSWORD, { project: { id: p } })
      const roles = (await h.call('GET', '/v3/auth/tokens', { headers: { 'x-subject-token': token } })).json().token.roles
      assert.deepEqual(roles.map((r: { id: string }) => r.id).sort(), [a, b].sort())
    })

    it('agrees with the roles a token gets', async () => {
      const d = await fx.domain()
      const parent = await fx.project({ domainId: d })
      const child = await fx.project({ domainId: d, parentId: parent })
      const u = await fx.user()
      const g = await fx.group({ members: [u] })
      const [r1, r2, r3, r4] = [await fx.role(), await fx.role(), await fx.role(), await fx.role()]
      await fx.grant(`/projects/${child}/users/${u}/roles/${r1}`)
      await fx.grant(`/OS-INHERIT/domains/${d}/groups/${g}/roles/${r2}/inherited_to_projects`)
      await fx.grant(`/OS-INHERIT/projects/${parent}/users/${u}/roles/${r3}/inherited_to_projects`)
      await h.call('PUT', `/v3/roles/${r1}/implies/${r4}`)
      const listed = [...new Set((await list(`scope.project.id=${child}&user.id=${u}&effective`)).map((a) => a.role.id))].sort()
      const token = await h.login(u, PASSWORD, { project: { id: child } })
      const roles = (await h.call('GET', '/v3/auth/tokens', { headers: { 'x-subject-token': token } })).json().token.roles
      assert.deepEqual(listed, roles.map((r: { id: string }) => r.id).sort())
      assert.deepEqual(listed, [r1, r2, r3, r4].sort())
    })

    it('leaves system assignments out unless scope.system=all is asked', async () => {
      const [u, r] = [await fx.user(), await fx.role()]
      const g = await fx.group({ members: [u] })
      await fx.grant(`/system/groups/${g}/roles/${r}`)
      assert.deepEqual(await list(`user.id=${u}&effective`), [])
      const sys = await list(`user.id=${u}&effective&scope.system=all`)
      assert.deepEqual(sys, [{ links: { assignment: `${V3}/system/groups/${g}/roles/${r}`, membership: `${V3}/groups/${g}/users/${u}` },
        scope: { system: { all: true } }, user: { id: u }, role: { id: r } }])
    })
  })

  describe('errors and RBAC', () => {
    it('rejects contradictory filters with Keystone\'s messages', async () => {
      const cases: [string, string][] = [
        ['scope.domain.id=a&scope.project.id=b', 'Specify a domain or project, not both'],
        ['scope.domain.id=a&scope.system=all', 'Specify system or domain, not both'],
        ['scope.project.id=a&scope.system=all', 'Specify system or project, not both'],
        ['user.id=a&group.id=b', 'Specify a user or group, not both'],
        ['group.id=a&effective', 'Combining effective and group filter will always result in an empty list.'],
        ['scope.domain.id=a&effective&scope.OS-INHERIT:inherited_to=projects', 'Combining effective, domain and inherited filters will always result in an empty list.'],
        ['role.id=bad_id!', ''],
      ]
      for (const [q, msg] of cases) {
        const r = await h.call('GET', `/v3/role_assignments?${q}`)
        assert.equal(r.statusCode, 400, q)
        if (msg) assert.equal(r.json().error.message, msg)
      }
    })

    it('refuses project members and readers; a domain reader sees its own domain only', async () => {
      const m = await fx.memberOf('member')
      const rd = await fx.memberOf('reader')
      for (const t of [m.token, rd.token]) {
        const r = await h.call('GET', '/v3/role_assignments', { token: t })
        assert.equal(r.statusCode, 403)
        assert.equal(r.json().error.message, 'You are not authorized to perform the requested action: identity:list_role_assignments.')
        assert.equal((await h.call('GET', `/v3/role_assignments?scope.project.id=${m.projectId}&include_subtree`, { token: t })).statusCode, 403)
      }
      const d = await fx.domain()
      const pIn = await fx.project({ domainId: d })
      const [u, other] = [await fx.user({ domainId: d }), await fx.user()]
      const reader = await fx.roleId('reader')
      await fx.grant(`/domains/${d}/users/${u}/roles/${reader}`)
      const r = await fx.role()
      await fx.grant(`/projects/${pIn}/users/${other}/roles/${r}`)
      await fx.grant(`/projects/${m.projectId}/users/${other}/roles/${r}`)
      const dt = await h.login(u, PASSWORD, { domain: { id: d } })
      const seen = await list('', dt)
      assert.deepEqual(brief(seen), [`u:${other}@p:${pIn}:${r}`, `u:${u}@d:${d}:${reader}`].sort())
      assert.deepEqual(brief(await list(`user.id=${other}`, dt)), [`u:${other}@p:${pIn}:${r}`])
      // The subtree listing has its own rule, checked against the project's domain.
      assert.equal((await h.call('GET', `/v3/role_assignments?scope.project.id=${pIn}&include_subtree`, { token: dt })).statusCode, 200)
      assert.equal((await h.call('GET', `/v3/role_assignments?scope.project.id=${m.projectId}&include_subtree`, { token: dt })).statusCode, 403)
    })
  })
})
