import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { PASSWORD, fixtures } from '../assignments-testkit.ts'
import { type IdentityHarness, identityHarness } from '../testing.ts'

describe('grants API', () => {
  let h: IdentityHarness
  let fx: ReturnType<typeof fixtures>
  before(async () => { h = await identityHarness(); fx = fixtures(h) })
  after(async () => { await h.close() })

  const status = async (m: string, url: string, token?: string) => (await h.call(m, url, { token })).statusCode
  const validate = (token: string) => h.call('GET', '/v3/auth/tokens', { headers: { 'x-subject-token': token } })
  const tokenRoles = async (token: string) => (await validate(token)).json().token.roles.map((r: { id: string }) => r.id).sort()

  /** Runs the whole grant life cycle on one grant URL and its list URL. */
  async function lifecycle(item: string, list: string | null, roleId: string) {
    assert.equal(await status('GET', item), 404, `check before grant ${item}`)
    assert.equal(await status('PUT', item), 204, item)
    assert.equal(await status('PUT', item), 204, 'granting twice is fine')
    assert.equal(await status('GET', item), 204)
    const head = await h.call('HEAD', item)
    assert.equal(head.statusCode, 204)
    assert.equal(head.body, '')
    if (list) {
      const r = await h.call('GET', list)
      assert.equal(r.statusCode, 200)
      const roles = r.json().roles
      assert.deepEqual(roles.map((x: { id: string }) => x.id), [roleId])
      assert.deepEqual(Object.keys(roles[0]).sort(), ['description', 'domain_id', 'id', 'links', 'name', 'options'])
      assert.equal(roles[0].links.self, `http://localhost:80/v3/roles/${roleId}`)
      assert.ok(r.json().links.self.endsWith(list))
    }
    assert.equal(await status('DELETE', item), 204)
    const gone = await h.call('GET', item)
    assert.equal(gone.statusCode, 404)
    assert.match(gone.json().error.message, new RegExp(`^Could not find role assignment with role: ${roleId}, user or group: \\w+, project, domain, or system: \\w+\\.$`))
    assert.equal(await status('HEAD', item), 404)
    assert.equal(await status('DELETE', item), 404)
    if (list) assert.deepEqual((await h.call('GET', list)).json().roles, [])
  }

  describe('every grant URL', () => {
    it('project × user and group', async () => {
      const [p, u, g, r] = [await fx.project(), await fx.user(), await fx.group(), await fx.role()]
      await lifecycle(`/v3/projects/${p}/users/${u}/roles/${r}`, `/v3/projects/${p}/users/${u}/roles`, r)
      await lifecycle(`/v3/projects/${p}/groups/${g}/roles/${r}`, `/v3/projects/${p}/groups/${g}/roles`, r)
    })

    it('domain × user and group', async () => {
      const [d, r] = [await fx.domain(), await fx.role()]
      const [u, g] = [await fx.user({ domainId: d }), await fx.group({ domainId: d })]
      await lifecycle(`/v3/domains/${d}/users/${u}/roles/${r}`, `/v3/domains/${d}/users/${u}/roles`, r)
      await lifecycle(`/v3/domains/${d}/groups/${g}/roles/${r}`, `/v3/domains/${d}/groups/${g}/roles`, r)
    })

    it('system × user and group', async () => {
      const [u, g, r] = [await fx.user(), await fx.group(), await fx.role()]
      await lifecycle(`/v3/system/users/${u}/roles/${r}`, `/v3/system/users/${u}/roles`, r)
      await lifecycle(`/v3/system/groups/${g}/roles/${r}`, `/v3/system/groups/${g}/roles`, r)
      const rows = await fx.db.selectFrom('assignments').selectAll().where('actor_id', '=', u).execute()
      assert.deepEqual(rows, [])
      await fx.grant(`/system/users/${u}/roles/${r}`)
      const row = await fx.db.selectFrom('assignments').selectAll().where('actor_id', '=', u).executeTakeFirstOrThrow()
      assert.deepEqual({ ...row, inherited: Number(row.inherited) }, { type: 'UserSystem', actor_id: u, target_id: 'system', role_id: r, inherited: 0 })
    })

    it('OS-INHERIT on domains (with lists) and projects', async () => {
      const [d, r] = [await fx.domain(), await fx.role()]
      const [u, g, p] = [await fx.user(), await fx.group(), await fx.project({ domainId: d })]
      await lifecycle(`/v3/OS-INHERIT/domains/${d}/users/${u}/roles/${r}/inherited_to_projects`,
        `/v3/OS-INHERIT/domains/${d}/users/${u}/roles/inherited_to_projects`, r)
      await lifecycle(`/v3/OS-INHERIT/domains/${d}/groups/${g}/roles/${r}/inherited_to_projects`,
        `/v3/OS-INHERIT/domains/${d}/groups/${g}/roles/inherited_to_projects`, r)
      await lifecycle(`/v3/OS-INHERIT/projects/${p}/users/${u}/roles/${r}/inherited_to_projects`, null, r)
      await lifecycle(`/v3/OS-INHERIT/projects/${p}/groups/${g}/roles/${r}/inherited_to_projects`, null, r)
    })

    it('keeps inherited and direct grants apart', async () => {
      const [d, r, u] = [await fx.domain(), await fx.role(), await fx.user()]
      await fx.grant(`/OS-INHERIT/domains/${d}/users/${u}/roles/${r}/inherited_to_projects`)
      assert.deepEqual((await h.call('GET', `/v3/domains/${d}/users/${u}/roles`)).json().roles, [])
      assert.equal(await status('GET', `/v3/domains/${d}/users/${u}/roles/${r}`), 404)
      await fx.grant(`/domains/${d}/users/${u}/roles/${r}`)
      assert.equal((await h.call('GET', `/v3/OS-INHERIT/domains/${d}/users/${u}/roles/inherited_to_projects`)).json().roles.length, 1)
      assert.equal(await status('DELETE', `/v3/domains/${d}/users/${u}/roles/${r}`), 204)
      assert.equal(await status('GET', `/v3/OS-INHERIT/domains/${d}/users/${u}/roles/${r}/inherited_to_projects`), 204)
    })
  })

  describe('errors', () => {
    it('404s each unknown party, with Keystone messages', async () => {
      const [p, d, u, g, r] = [await fx.project(), await fx.domain(), await fx.user(), await fx.group(), await fx.role()]
      const cases: [string, string][] = [
        [`/v3/projects/${p}/users/${u}/roles/nosuch`, 'Could not find role: nosuch.'],
        [`/v3/projects/${p}/users/nosuch/roles/${r}`, 'Could not find user: nosuch.'],
        [`/v3/projects/${p}/groups/nosuch/roles/${r}`, 'Could not find group: nosuch.'],
        [`/v3/projects/nosuch/users/${u}/roles/${r}`, 'Could not find project: nosuch.'],
        [`/v3/domains/nosuch/users/${u}/roles/${r}`, 'Could not find domain: nosuch.'],
        [`/v3/domains/${d}/groups/nosuch/roles/${r}`, 'Could not find group: nosuch.'],
        [`/v3/system/users/nosuch/roles/${r}`, 'Could not find user: nosuch.'],
        [`/v3/system/groups/${g}/roles/nosuch`, 'Could not find role: nosuch.'],
        [`/v3/OS-INHERIT/domains/nosuch/users/${u}/roles/${r}/inherited_to_projects`, 'Could not find domain: nosuch.'],
        [`/v3/OS-INHERIT/projects/${p}/users/nosuch/roles/${r}/inherited_to_projects`, 'Could not find user: nosuch.'],
        [`/v3/OS-INHERIT/projects/nosuch/groups/${g}/roles/${r}/inherited_to_projects`, 'Could not find project: nosuch.'],
      ]
      for (const [url, msg] of cases) {
        for (const m of ['PUT', 'GET']) {
          const res = await h.call(m, url)
          assert.equal(res.statusCode, 404, `${m} ${url}`)
          assert.equal(res.json().error.message, msg, `${m} ${url}`)
        }
      }
      const lists: [string, string][] = [
        [`/v3/projects/nosuch/users/${u}/roles`, 'Could not find project: nosuch.'],
        [`/v3/projects/${p}/users/nosuch/roles`, 'Could not find user: nosuch.'],
        [`/v3/domains/${d}/groups/nosuch/roles`, 'Could not find group: nosuch.'],
        [`/v3/system/users/nosuch/roles`, 'Could not find user: nosuch.'],
        [`/v3/OS-INHERIT/domains/nosuch/users/${u}/roles/inherited_to_projects`, 'Could not find domain: nosuch.'],
      ]
      for (const [url, msg] of lists) {
        const res = await h.call('GET', url)
        assert.equal(res.statusCode, 404, url)
        assert.equal(res.json().error.message, msg)
      }
      assert.equal((await fx.db.selectFrom('assignments').select('role_id').where('role_id', '=', r).execute()).length, 0)
    })

    it('lets a grant of a deleted user be revoked', async () => {
      const [p, r] = [await fx.project(), await fx.role()]
      await fx.db.insertInto('assignments').values({ type: 'UserProject', actor_id: 'ghostuser', target_id: p, role_id: r, inherited: 0 }).execute()
      assert.equal(await status('GET', `/v3/projects/${p}/users/ghostuser/roles/${r}`), 404)
      assert.equal(await status('DELETE', `/v3/projects/${p}/users/ghostuser/roles/${r}`), 204)
      assert.equal(await status('DELETE', `/v3/projects/${p}/users/ghostuser/roles/${r}`), 404)
      assert.equal(await status('DELETE', `/v3/projects/${p}/users/ghostuser/roles/nosuch`), 404)
    })

    it('domain-specific roles: project in the same domain only; never on the system', async () => {
      const [d1, d2] = [await fx.domain(), await fx.domain()]
      const dr = await fx.role({ domainId: d1 })
      const [p1, p2, u] = [await fx.project({ domainId: d1 }), await fx.project({ domainId: d2 }), await fx.user()]
      assert.equal(await status('PUT', `/v3/projects/${p1}/users/${u}/roles/${dr}`), 204)
      const mismatch = await h.call('PUT', `/v3/projects/${p2}/users/${u}/roles/${dr}`)
      assert.equal(mismatch.statusCode, 403)
      assert.equal(mismatch.json().error.message, `Project ${p2} must be in the same domain as the role ${dr} being assigned.`)
      assert.equal(await status('PUT', `/v3/OS-INHERIT/projects/${p2}/users/${u}/roles/${dr}/inherited_to_projects`), 403)
      const sys = await h.call('PUT', `/v3/system/users/${u}/roles/${dr}`)
      assert.equal(sys.statusCode, 400)
      assert.equal(sys.json().error.message, `Role ${dr} is a domain-specific role. Unable to use a domain-specific role in a system assignment.`)
      assert.equal(await status('PUT', `/v3/domains/${d2}/users/${u}/roles/${dr}`), 204)
    })
  })

  describe('RBAC', () => {
    it('members and readers can neither write nor list grants', async () => {
      const m = await fx.memberOf('member')
      const rd = await fx.memberOf('reader')
      const r = await fx.role()
      for (const t of [m.token, rd.token]) {
        assert.equal(await status('PUT', `/v3/projects/${m.projectId}/users/${m.userId}/roles/${r}`, t), 403)
        assert.equal(await status('DELETE', `/v3/projects/${m.projectId}/users/${m.userId}/roles/${await fx.roleId('member')}`, t), 403)
        assert.equal(await status('GET', `/v3/projects/${m.projectId}/users/${m.userId}/roles`, t), 403)
        assert.equal(await status('PUT', `/v3/system/users/${m.userId}/roles/${r}`, t), 403)
        assert.equal(await status('GET', `/v3/system/users/${m.userId}/roles`, t), 403)
        assert.equal(await status('PUT', `/v3/OS-INHERIT/domains/default/users/${m.userId}/roles/${r}/inherited_to_projects`, t), 403)
      }
      // Keystone's project API loads the parties before the policy check; OS-INHERIT after it.
      assert.equal(await status('PUT', `/v3/projects/nosuch/users/${m.userId}/roles/${r}`, m.token), 404)
      assert.equal(await status('PUT', `/v3/OS-INHERIT/projects/nosuch/users/${m.userId}/roles/${r}/inherited_to_projects`, m.token), 403)
      assert.equal(await status('GET', `/v3/projects/${m.projectId}/users/${m.userId}/roles`, null as unknown as string), 401)
      assert.equal((await fx.db.selectFrom('assignments').select('role_id').where('role_id', '=', r).execute()).length, 0)
    })
  })

  describe('tokens', () => {
    it('removing a user grant on a project invalidates that user\'s token there, not elsewhere', async () => {
      const [p1, p2, u, r] = [await fx.project(), await fx.project(), await fx.user(), await fx.role()]
      const member = await fx.roleId('member')
      await fx.grant(`/projects/${p1}/users/${u}/roles/${r}`)
      await fx.grant(`/projects/${p1}/users/${u}/roles/${member}`)
      await fx.grant(`/projects/${p2}/users/${u}/roles/${r}`)
      const t1 = await h.login(u, PASSWORD, { project: { id: p1 } })
      const t2 = await h.login(u, PASSWORD, { project: { id: p2 } })
      assert.equal((await validate(t1)).statusCode, 200)
      assert.equal(await status('DELETE', `/v3/projects/${p1}/users/${u}/roles/${r}`), 204)
      assert.equal((await validate(t1)).statusCode, 404)
      assert.equal((await validate(t2)).statusCode, 200)
      // A new token on p1 carries the remaining roles.
      const t3 = await h.login(u, PASSWORD, { project: { id: p1 } })
      assert.deepEqual(await tokenRoles(t3), [member, await fx.roleId('reader')].sort())
    })

    it('a group grant reaches its members, and removing it revokes their tokens', async () => {
      const [p, u1, u2, r] = [await fx.project(), await fx.user(), await fx.user(), await fx.role()]
      const g = await fx.group({ members: [u1, u2] })
      await fx.grant(`/projects/${p}/groups/${g}/roles/${r}`)
      const t1 = await h.login(u1, PASSWORD, { project: { id: p } })
      const t2 = await h.login(u2, PASSWORD, { project: { id: p } })
      assert.deepEqual(await tokenRoles(t1), [r])
      assert.equal(await status('DELETE', `/v3/projects/${p}/groups/${g}/roles/${r}`), 204)
      assert.equal((await validate(t1)).statusCode, 404)
      assert.equal((await validate(t2)).statusCode, 404)
    })

    it('domain, inherited and system grants reach the tokens they should', async () => {
      const d = await fx.domain()
      const parent = await fx.project({ domainId: d })
      const child = await fx.project({ domainId: d, parentId: parent })
      const [u, r1, r2, r3] = [await fx.user(), await fx.role(), await fx.role(), await fx.role()]
      await fx.grant(`/domains/${d}/users/${u}/roles/${r1}`)
      const dt = await h.login(u, PASSWORD, { domain: { id: d } })
      assert.deepEqual(await tokenRoles(dt), [r1])
      await assert.rejects(h.login(u, PASSWORD, { project: { id: parent } }), /401/) // a domain grant is not inherited

      await fx.grant(`/OS-INHERIT/domains/${d}/users/${u}/roles/${r2}/inherited_to_projects`)
      await fx.grant(`/OS-INHERIT/projects/${parent}/users/${u}/roles/${r3}/inherited_to_projects`)
      const pt = await h.login(u, PASSWORD, { project: { id: parent } })
      const ct = await h.login(u, PASSWORD, { project: { id: child } })
      assert.deepEqual(await tokenRoles(pt), [r2])
      assert.deepEqual(await tokenRoles(ct), [r2, r3].sort())
      assert.deepEqual(await tokenRoles(dt), [r1], 'inherited grants do not reach the domain itself')

      assert.equal(await status('DELETE', `/v3/OS-INHERIT/projects/${parent}/users/${u}/roles/${r3}/inherited_to_projects`), 204)
      assert.equal((await validate(ct)).statusCode, 404)
      assert.equal(await status('DELETE', `/v3/domains/${d}/users/${u}/roles/${r1}`), 204)
      assert.equal((await validate(dt)).statusCode, 404)

      await fx.grant(`/system/users/${u}/roles/${r1}`)
      const st = await h.login(u, PASSWORD, { system: { all: true } })
      assert.deepEqual(await tokenRoles(st), [r1])
      assert.equal(await status('DELETE', `/v3/system/users/${u}/roles/${r1}`), 204)
      assert.equal((await validate(st)).statusCode, 404)
    })
  })
})
