import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { PASSWORD, fixtures, uniq } from '../assignments-testkit.ts'
import { type IdentityHarness, identityHarness } from '../testing.ts'

describe('roles API', () => {
  let h: IdentityHarness
  let fx: ReturnType<typeof fixtures>
  let member: { userId: string; projectId: string; token: string }
  let reader: { userId: string; projectId: string; token: string }
  before(async () => {
    h = await identityHarness()
    fx = fixtures(h)
    member = await fx.memberOf('member')
    reader = await fx.memberOf('reader')
  })
  after(async () => { await h.close() })

  const create = (role: unknown, token?: string) => h.call('POST', '/v3/roles', { body: { role }, token })

  describe('CRUD', () => {
    it('creates a global role as Keystone shows it, and GET and list show the same object', async () => {
      const name = uniq('r')
      const r = await create({ name, description: 'a role', custom_attr: 'kept' })
      assert.equal(r.statusCode, 201)
      const role = r.json().role
      assert.match(role.id, /^[0-9a-f]{32}$/)
      assert.deepEqual(role, { id: role.id, name, domain_id: null, description: 'a role', options: {}, custom_attr: 'kept',
        links: { self: `http://localhost:80/v3/roles/${role.id}` } })
      const got = await h.call('GET', `/v3/roles/${role.id}`)
      assert.equal(got.statusCode, 200)
      assert.deepEqual(got.json().role, role)
      const list = await h.call('GET', '/v3/roles')
      assert.equal(list.statusCode, 200)
      assert.ok(list.json().roles.some((x: unknown) => JSON.stringify(x) === JSON.stringify(role)))
      assert.equal(list.json().links.self, 'http://localhost:80/v3/roles')
    })

    it('shows description null when none was given, and the bootstrap roles', async () => {
      const role = (await create({ name: uniq('r') })).json().role
      assert.equal(role.description, null)
      const names = (await h.call('GET', '/v3/roles')).json().roles.map((x: { name: string }) => x.name)
      for (const n of ['admin', 'member', 'reader', 'service', 'ResellerAdmin']) assert.ok(names.includes(n), n)
    })

    it('filters by name and by domain; without domain_id only global roles are listed', async () => {
      const d = await fx.domain()
      const name = uniq('dr')
      const dr = (await create({ name, domain_id: d })).json().role
      assert.equal(dr.domain_id, d)
      const global = (await h.call('GET', '/v3/roles')).json().roles
      assert.ok(!global.some((x: { id: string }) => x.id === dr.id))
      const inDomain = (await h.call('GET', `/v3/roles?domain_id=${d}`)).json().roles
      assert.deepEqual(inDomain, [dr])
      const byName = (await h.call('GET', '/v3/roles?name=member')).json().roles
      assert.equal(byName.length, 1)
      assert.equal(byName[0].name, 'member')
      assert.deepEqual((await h.call('GET', `/v3/roles?name=${name}`)).json().roles, [])
      assert.deepEqual((await h.call('GET', `/v3/roles?name=${name}&domain_id=${d}`)).json().roles, [dr])
    })

    it('keeps names unique per domain (409) but allows the same name in another domain', async () => {
      const name = uniq('dup')
      assert.equal((await create({ name })).statusCode, 201)
      const dup = await create({ name })
      assert.equal(dup.statusCode, 409)
      assert.equal(dup.json().error.message, `Conflict occurred attempting to store role - Duplicate entry found with name ${name}.`)
      const d = await fx.domain()
      assert.equal((await create({ name, domain_id: d })).statusCode, 201)
      const dup2 = await create({ name, domain_id: d })
      assert.equal(dup2.statusCode, 409)
      assert.match(dup2.json().error.message, new RegExp(`at domain ID ${d}\\.$`))
    })

    it('rejects bad bodies with 400 and changes nothing', async () => {
      const before = (await h.call('GET', '/v3/roles')).json().roles.length
      for (const body of [{}, { role: {} }, { role: { name: '' } }, { role: { name: '   ' } }, { role: { name: 5 } },
        { role: { name: 'x', options: { foo: true } } }, { role: { name: 'x', options: { immutable: 'yes' } } },
        { role: { name: 'x', description: 7 } }, { role: { name: 'x', domain_id: 'bad id!' } }, { role: { name: 'x' }, other: 1 }]) {
        const r = await h.call('POST', '/v3/roles', { body })
        assert.equal(r.statusCode, 400, JSON.stringify(body))
        assert.ok(r.json().error.message)
      }
      const bad = await h.call('POST', '/v3/roles', { body: '{"role": {"name": ', headers: { 'content-type': 'application/json' } })
      assert.equal(bad.statusCode, 400)
      assert.equal((await h.call('GET', '/v3/roles')).json().roles.length, before)
    })

    it('404s a domain role in a domain that does not exist', async () => {
      const r = await create({ name: uniq('r'), domain_id: 'nosuchdomain' })
      assert.equal(r.statusCode, 404)
      assert.equal(r.json().error.message, 'Could not find domain: nosuchdomain.')
    })

    it('updates name, description and extra attributes; refuses domain_id and id changes', async () => {
      const role = (await create({ name: uniq('r') })).json().role
      const name = uniq('renamed')
      const r = await h.call('PATCH', `/v3/roles/${role.id}`, { body: { role: { name, description: 'd2', extra_x: 1 } } })
      assert.equal(r.statusCode, 200)
      assert.equal(r.json().role.name, name)
      assert.equal(r.json().role.description, 'd2')
      assert.equal(r.json().role.extra_x, 1)
      assert.deepEqual((await h.call('GET', `/v3/roles/${role.id}`)).json().role, r.json().role)
      const d = await h.call('PATCH', `/v3/roles/${role.id}`, { body: { role: { domain_id: 'default' } } })
      assert.equal(d.statusCode, 400)
      assert.equal(d.json().error.message, 'Update of `domain_id` is not allowed.')
      assert.equal((await h.call('PATCH', `/v3/roles/${role.id}`, { body: { role: { domain_id: null } } })).statusCode, 200)
      assert.equal((await h.call('PATCH', `/v3/roles/${role.id}`, { body: { role: { id: 'other' } } })).statusCode, 400)
      assert.equal((await h.call('PATCH', `/v3/roles/${role.id}`, { body: { role: {} } })).statusCode, 400)
      assert.equal((await h.call('PATCH', `/v3/roles/${role.id}`, { body: { role: { name: '' } } })).statusCode, 400)
      const dupName = (await create({ name: uniq('other') })).json().role.name
      assert.equal((await h.call('PATCH', `/v3/roles/${role.id}`, { body: { role: { name: dupName } } })).statusCode, 409)
      assert.equal((await h.call('GET', `/v3/roles/${role.id}`)).json().role.name, name)
    })

    it('404s unknown roles on GET, PATCH and DELETE', async () => {
      for (const [m, body] of [['GET'], ['PATCH', { role: { name: 'x' } }], ['DELETE']] as const) {
        const r = await h.call(m, '/v3/roles/nosuchrole', { body })
        assert.equal(r.statusCode, 404, m)
        assert.equal(r.json().error.message, 'Could not find role: nosuchrole.')
      }
    })

    it('protects immutable roles until the option is cleared', async () => {
      const role = (await create({ name: uniq('imm'), options: { immutable: true } })).json().role
      assert.deepEqual(role.options, { immutable: true })
      const upd = await h.call('PATCH', `/v3/roles/${role.id}`, { body: { role: { name: 'changed' } } })
      assert.equal(upd.statusCode, 403)
      assert.match(upd.json().error.message, /^Unable to update immutable role resource/)
      const both = await h.call('PATCH', `/v3/roles/${role.id}`, { body: { role: { name: 'x', options: { immutable: false } } } })
      assert.equal(both.statusCode, 403)
      const del = await h.call('DELETE', `/v3/roles/${role.id}`)
      assert.equal(del.statusCode, 403)
      assert.match(del.json().error.message, /^Unable to delete immutable role resource/)
      const clear = await h.call('PATCH', `/v3/roles/${role.id}`, { body: { role: { options: { immutable: null } } } })
      assert.equal(clear.statusCode, 200)
      assert.deepEqual(clear.json().role.options, {})
      assert.equal((await h.call('DELETE', `/v3/roles/${role.id}`)).statusCode, 204)
    })

    it('deleting a role removes its assignments and inference rules, and the tokens it alone granted', async () => {
      const role = await fx.role()
      const other = await fx.role()
      const implied = await fx.role()
      const p = await fx.project()
      const u = await fx.user()
      await fx.grant(`/projects/${p}/users/${u}/roles/${role}`)
      assert.equal((await h.call('PUT', `/v3/roles/${role}/implies/${implied}`)).statusCode, 201)
      assert.equal((await h.call('PUT', `/v3/roles/${other}/implies/${role}`)).statusCode, 201)
      const token = await h.login(u, PASSWORD, { project: { id: p } })
      const roles = (await h.call('GET', '/v3/auth/tokens', { headers: { 'x-subject-token': token } })).json().token.roles
      assert.deepEqual(roles.map((r: { id: string }) => r.id).sort(), [role, implied].sort())

      assert.equal((await h.call('DELETE', `/v3/roles/${role}`)).statusCode, 204)
      assert.equal((await h.call('GET', `/v3/roles/${role}`)).statusCode, 404)
      const left = await fx.db.selectFrom('assignments').select('role_id').where('role_id', '=', role).execute()
      assert.equal(left.length, 0)
      const rules = await fx.db.selectFrom('implied_roles').selectAll()
        .where((eb) => eb.or([eb('prior_role_id', '=', role), eb('implied_role_id', '=', role)])).execute()
      assert.equal(rules.length, 0)
      assert.equal((await h.call('GET', '/v3/auth/tokens', { headers: { 'x-subject-token': token } })).statusCode, 404)
    })
  })

  describe('RBAC', () => {
    it('only an admin writes roles', async () => {
      const role = (await create({ name: uniq('r') })).json().role
      for (const t of [member.token, reader.token]) {
        assert.equal((await create({ name: uniq('r') }, t)).statusCode, 403)
        assert.equal((await h.call('PATCH', `/v3/roles/${role.id}`, { token: t, body: { role: { name: 'x' } } })).statusCode, 403)
        assert.equal((await h.call('DELETE', `/v3/roles/${role.id}`, { token: t })).statusCode, 403)
        assert.equal((await h.call('PUT', `/v3/roles/${role.id}/implies/${role.id}`, { token: t })).statusCode, 403)
      }
      const d = await fx.domain()
      const forbidden = await create({ name: uniq('r'), domain_id: d }, member.token)
      assert.equal(forbidden.statusCode, 403)
      assert.match(forbidden.json().error.message, /identity:create_domain_role/)
    })

    it('readers see global roles but not domain-specific ones', async () => {
      const d = await fx.domain()
      const dr = await fx.role({ domainId: d })
      const global = await fx.roleId('member')
      assert.equal((await h.call('GET', `/v3/roles/${global}`, { token: reader.token })).statusCode, 200)
      assert.equal((await h.call('GET', '/v3/roles', { token: member.token })).statusCode, 200)
      assert.equal((await h.call('GET', `/v3/roles/${dr}`, { token: reader.token })).statusCode, 403)
      assert.equal((await h.call('GET', `/v3/roles?domain_id=${d}`, { token: reader.token })).statusCode, 403)
      assert.equal((await h.call('GET', '/v3/role_inferences', { token: member.token })).statusCode, 403)
      assert.equal((await h.call('GET', `/v3/roles/${global}/implies`, { token: member.token })).statusCode, 403)
      assert.equal((await h.call('GET', '/v3/roles', { token: null })).statusCode, 401)
    })
  })

  describe('implied roles', () => {
    it('creates, shows, checks, lists and deletes an inference rule', async () => {
      const [a, b, c2] = [await fx.role(), await fx.role(), await fx.role()]
      const put = await h.call('PUT', `/v3/roles/${a}/implies/${b}`)
      assert.equal(put.statusCode, 201)
      const inf = put.json()
      assert.equal(inf.role_inference.prior_role.id, a)
      assert.equal(inf.role_inference.implies.id, b)
      assert.deepEqual(Object.keys(inf.role_inference.implies).sort(), ['id', 'links', 'name'])
      assert.equal(inf.links.self, `http://localhost:80/v3/roles/${a}/implies/${b}`)
      const get = await h.call('GET', `/v3/roles/${a}/implies/${b}`)
      assert.equal(get.statusCode, 200)
      assert.deepEqual(get.json(), inf)
      const head = await h.call('HEAD', `/v3/roles/${a}/implies/${b}`)
      assert.equal(head.statusCode, 204)
      assert.equal(head.body, '')

      assert.equal((await h.call('PUT', `/v3/roles/${a}/implies/${c2}`)).statusCode, 201)
      assert.equal((await h.call('PUT', `/v3/roles/${c2}/implies/${b}`)).statusCode, 201)
      const list = (await h.call('GET', `/v3/roles/${a}/implies`)).json()
      assert.equal(list.role_inference.prior_role.id, a)
      assert.deepEqual(list.role_inference.implies.map((r: { id: string }) => r.id).sort(), [b, c2].sort())
      assert.equal(list.links.self, `http://localhost:80/v3/roles/${a}/implies`)

      const all = (await h.call('GET', '/v3/role_inferences')).json().role_inferences
      const mine = all.filter((x: { prior_role: { id: string } }) => [a, c2].includes(x.prior_role.id))
      assert.equal(mine.length, 2)
      const ofA = mine.find((x: { prior_role: { id: string } }) => x.prior_role.id === a)
      assert.deepEqual(ofA.implies.map((r: { id: string }) => r.id).sort(), [b, c2].sort())
      const admin = await fx.roleId('admin')
      assert.ok(all.some((x: { prior_role: { id: string } }) => x.prior_role.id === admin), 'bootstrap admin→member rule listed')

      assert.equal((await h.call('DELETE', `/v3/roles/${a}/implies/${b}`)).statusCode, 204)
      const gone = await h.call('GET', `/v3/roles/${a}/implies/${b}`)
      assert.equal(gone.statusCode, 404)
      assert.equal(gone.json().error.message, `${a} does not imply ${b}.`)
      assert.equal((await h.call('HEAD', `/v3/roles/${a}/implies/${b}`)).statusCode, 404)
      assert.equal((await h.call('DELETE', `/v3/roles/${a}/implies/${b}`)).statusCode, 404)
    })

    it('refuses duplicates, self-implication, implying admin and global→domain rules', async () => {
      const [a, b] = [await fx.role(), await fx.role()]
      assert.equal((await h.call('PUT', `/v3/roles/${a}/implies/${b}`)).statusCode, 201)
      const dup = await h.call('PUT', `/v3/roles/${a}/implies/${b}`)
      assert.equal(dup.statusCode, 409)
      assert.equal(dup.json().error.message, 'Conflict occurred attempting to store implied_role - Duplicate entry.')
      assert.equal((await h.call('PUT', `/v3/roles/${a}/implies/${a}`)).statusCode, 400)
      const admin = await fx.roleId('admin')
      const adm = await h.call('PUT', `/v3/roles/${a}/implies/${admin}`)
      assert.equal(adm.statusCode, 403)
      assert.equal(adm.json().error.message, `${admin} cannot be an implied roles.`)
      const d = await fx.domain()
      const dr = await fx.role({ domainId: d })
      const g2d = await h.call('PUT', `/v3/roles/${a}/implies/${dr}`)
      assert.equal(g2d.statusCode, 403)
      assert.equal(g2d.json().error.message, 'Global role cannot imply a domain-specific role')
      // A cycle through another role is allowed, as in Keystone.
      assert.equal((await h.call('PUT', `/v3/roles/${b}/implies/${a}`)).statusCode, 201)
    })

    it('lets domain roles imply domain roles (any domain) and global roles', async () => {
      const [d1, d2] = [await fx.domain(), await fx.domain()]
      const [r1, r2, r3] = [await fx.role({ domainId: d1 }), await fx.role({ domainId: d1 }), await fx.role({ domainId: d2 })]
      const g = await fx.role()
      for (const [p, i] of [[r1, r2], [r1, r3], [r1, g]]) assert.equal((await h.call('PUT', `/v3/roles/${p}/implies/${i}`)).statusCode, 201)
    })

    it('404s unknown roles in rule URLs', async () => {
      const a = await fx.role()
      for (const [m, url] of [['PUT', `/v3/roles/nosuch/implies/${a}`], ['PUT', `/v3/roles/${a}/implies/nosuch`],
        ['GET', `/v3/roles/nosuch/implies`], ['GET', `/v3/roles/${a}/implies/nosuch`], ['DELETE', `/v3/roles/nosuch/implies/${a}`]] as const) {
        const r = await h.call(m, url)
        assert.equal(r.statusCode, 404, `${m} ${url}`)
        assert.equal(r.json().error.message, 'Could not find role: nosuch.')
      }
    })

    it('puts implied roles in tokens, and only what a domain role implies', async () => {
      const d = await fx.domain()
      const p = await fx.project({ domainId: d })
      const u = await fx.user()
      const [dr, a, b] = [await fx.role({ domainId: d }), await fx.role(), await fx.role()]
      await h.call('PUT', `/v3/roles/${dr}/implies/${a}`)
      await h.call('PUT', `/v3/roles/${a}/implies/${b}`)
      await fx.grant(`/projects/${p}/users/${u}/roles/${dr}`)
      const token = await h.login(u, PASSWORD, { project: { id: p } })
      const ids = (t: string) => h.call('GET', '/v3/auth/tokens', { headers: { 'x-subject-token': t } })
        .then((r) => r.json().token.roles.map((x: { id: string }) => x.id).sort())
      assert.deepEqual(await ids(token), [a, b].sort())
      // Removing a rule shows at the next validation.
      assert.equal((await h.call('DELETE', `/v3/roles/${a}/implies/${b}`)).statusCode, 204)
      assert.deepEqual(await ids(token), [a])
    })
  })
})
