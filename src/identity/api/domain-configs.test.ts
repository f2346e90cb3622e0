import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { type IdentityHarness, identityHarness } from '../testing.ts'
import { addDomain, rbacTokens } from '../ext-fixtures.ts'
import { newId } from './common.ts'

// The configuration Tempest's test_domain_configuration uses.
const custom = {
  identity: { driver: 'ldap' },
  ldap: { url: 'ldap://myldap.com:389/', user_tree_dn: 'ou=Users,dc=my_new_root,dc=org' },
}

describe('domain configuration', () => {
  let h: IdentityHarness
  let t: Awaited<ReturnType<typeof rbacTokens>>
  before(async () => { h = await identityHarness(); t = await rbacTokens(h) })
  after(async () => { await h.close() })

  const cfg = (d: string, rest = '') => `/v3/domains/${d}/config${rest}`
  const put = async (d: string, config: unknown) => h.call('PUT', cfg(d), { body: { config } })
  const stored = async (d: string) => h.identity.ctx.db.selectFrom('domain_configs').selectAll()
    .where('domain_id', '=', d).orderBy('group_name').orderBy('option_name').execute()

  describe('defaults', () => {
    it('shows Keystone defaults for identity and ldap, by group and by option', async () => {
      const all = await h.call('GET', '/v3/domains/config/default')
      assert.equal(all.statusCode, 200)
      assert.deepEqual(Object.keys(all.json().config).sort(), ['identity', 'ldap'])
      const identity = (await h.call('GET', '/v3/domains/config/identity/default')).json().config
      assert.deepEqual(identity, { identity: { driver: 'sql', list_limit: null } })
      for (const opt of ['driver', 'list_limit']) {
        const r = await h.call('GET', `/v3/domains/config/identity/${opt}/default`)
        assert.equal(r.statusCode, 200)
        assert.ok(opt in r.json().config)
      }
      const ldap = (await h.call('GET', '/v3/domains/config/ldap/default')).json().config.ldap
      assert.equal(ldap.url, 'ldap://localhost')
      assert.equal(ldap.password, undefined, 'sensitive options have no readable default')
      assert.equal(Object.keys(ldap).length, 49)
      for (const opt of Object.keys(ldap)) {
        const r = await h.call('GET', `/v3/domains/config/ldap/${opt}/default`)
        assert.deepEqual(r.json().config, { [opt]: ldap[opt] })
      }
      assert.equal((await h.call('HEAD', '/v3/domains/config/default')).statusCode, 200)
    })

    it('refuses unsupported groups and options with 403', async () => {
      for (const url of ['/v3/domains/config/token/default', '/v3/domains/config/ldap/nope/default',
        '/v3/domains/config/ldap/password/default', '/v3/domains/config/identity/toString/default']) {
        const r = await h.call('GET', url)
        assert.equal(r.statusCode, 403, url)
        assert.match(r.json().error.message, /^Invalid domain specific configuration: /)
      }
    })
  })

  describe('a domain', () => {
    it('creates, shows groups and options, updates and deletes (the Tempest flows)', async () => {
      const d = await addDomain(h)
      assert.equal((await h.call('GET', cfg(d))).statusCode, 404)
      const created = await put(d, custom)
      assert.equal(created.statusCode, 201)
      assert.deepEqual(created.json().config, custom)
      assert.deepEqual((await h.call('GET', cfg(d))).json().config, custom)
      for (const [group, options] of Object.entries(custom)) {
        assert.deepEqual((await h.call('GET', cfg(d, `/${group}`))).json().config, { [group]: options })
        for (const [opt, v] of Object.entries(options)) {
          assert.deepEqual((await h.call('GET', cfg(d, `/${group}/${opt}`))).json().config, { [opt]: v })
        }
      }

      // The whole config, merged.
      const url = `ldap://${newId()}.example`
      const u = await h.call('PATCH', cfg(d), { body: { config: { ...custom, ldap: { ...custom.ldap, url } } } })
      assert.equal(u.statusCode, 200)
      assert.deepEqual(u.json().config, { ...custom, ldap: { ...custom.ldap, url } })

      // A group, then an option (numbers stay numbers).
      const g = await h.call('PATCH', cfg(d, '/identity'), { body: { config: { identity: { driver: 'drv-1', list_limit: 42 } } } })
      assert.equal(g.statusCode, 200)
      assert.deepEqual(g.json().config.identity, { driver: 'drv-1', list_limit: 42 })
      assert.equal(g.json().config.ldap.url, url)
      const o = await h.call('PATCH', cfg(d, '/identity/driver'), { body: { config: { driver: 'drv-2' } } })
      assert.equal(o.json().config.identity.driver, 'drv-2')
      assert.equal(o.json().config.identity.list_limit, 42)

      // Re-creating replaces everything and answers 200.
      const again = await put(d, { ldap: { url: 'ldap://only' } })
      assert.equal(again.statusCode, 200)
      assert.deepEqual(again.json().config, { ldap: { url: 'ldap://only' } })
      assert.equal((await h.call('GET', cfg(d, '/identity'))).statusCode, 404)

      await put(d, custom)
      assert.equal((await h.call('DELETE', cfg(d, '/identity/driver'))).statusCode, 204)
      const noOpt = await h.call('GET', cfg(d, '/identity/driver'))
      assert.equal(noOpt.statusCode, 404)
      assert.equal(noOpt.json().error.message, `Could not find option driver in group identity in domain configuration for domain ${d}.`)
      assert.equal((await h.call('DELETE', cfg(d, '/identity/driver'))).statusCode, 404)
      assert.equal((await h.call('DELETE', cfg(d, '/identity'))).statusCode, 404, 'the group is empty now')
      assert.equal((await h.call('DELETE', cfg(d, '/ldap'))).statusCode, 204)
      assert.equal((await h.call('GET', cfg(d, '/ldap'))).statusCode, 404)

      await put(d, custom)
      assert.equal((await h.call('DELETE', cfg(d))).statusCode, 204)
      const none = await h.call('GET', cfg(d))
      assert.equal(none.statusCode, 404)
      assert.equal(none.json().error.message, `Could not find any options in domain configuration for domain ${d}.`)
      assert.deepEqual(await stored(d), [])
    })

    it('stores sensitive options but never returns them', async () => {
      const d = await addDomain(h)
      const r = await put(d, { ldap: { url: 'ldap://s', password: 's3cret' } })
      assert.deepEqual(r.json().config, { ldap: { url: 'ldap://s' } })
      assert.ok(!JSON.stringify((await h.call('GET', cfg(d))).json()).includes('s3cret'))
      assert.equal((await h.call('GET', cfg(d, '/ldap/password'))).statusCode, 404)
      const row = (await stored(d)).find((x) => x.option_name === 'password')
      assert.equal(row?.sensitive, 1)
      // A sensitive option can be updated and deleted.
      const u = await h.call('PATCH', cfg(d, '/ldap/password'), { body: { config: { password: 'n3w' } } })
      assert.equal(u.statusCode, 200)
      assert.deepEqual(u.json().config, { ldap: { url: 'ldap://s' } })
      assert.equal((await h.call('DELETE', cfg(d, '/ldap/password'))).statusCode, 204)
      assert.equal((await stored(d)).length, 1)
    })

    it('rejects bad configurations with Keystone codes and changes nothing', async () => {
      const d = await addDomain(h)
      await put(d, custom)
      const before1 = await stored(d)
      const forbidden: [string, string, unknown][] = [
        ['PUT', '', {}],
        ['PUT', '', { token: { expiration: 5 } }],
        ['PUT', '', { ldap: { url: 'x', nope: 1 } }],
        ['PUT', '', { ldap: {} }],
        ['PUT', '', { ldap: 'ldap://x' }],
        ['PATCH', '', { ldap: { bogus: 1 } }],
        ['PATCH', '/identity', { ldap: { url: 'x' } }],
        ['PATCH', '/identity', { identity: { driver: 'x' }, ldap: { url: 'x' } }],
        ['PATCH', '/identity/driver', { list_limit: 3 }],
        ['PATCH', '/identity/driver', { driver: 'x', list_limit: 3 }],
        ['PATCH', '/identity/driver', {}],
        ['GET', '/token', undefined],
        ['GET', '/ldap/nope', undefined],
        ['DELETE', '/assignment', undefined],
      ]
      for (const [method, rest, config] of forbidden) {
        const r = await h.call(method, cfg(d, rest), config === undefined ? {} : { body: { config } })
        assert.equal(r.statusCode, 403, `${method} ${rest} ${JSON.stringify(config)}`)
        assert.match(r.json().error.message, /^Invalid domain specific configuration: /)
      }
      // Updating an option or group the domain does not have yet is a 404.
      assert.equal((await h.call('PATCH', cfg(d, '/ldap/page_size'), { body: { config: { page_size: 5 } } })).statusCode, 404)
      const d2 = await addDomain(h)
      assert.equal((await h.call('PATCH', cfg(d2, '/ldap'), { body: { config: { ldap: { url: 'x' } } } })).statusCode, 404)
      assert.equal((await h.call('PUT', cfg(d), { body: { config: 'x' } })).statusCode, 400)
      assert.equal((await h.call('PUT', cfg(d), { body: '{"config": ' })).statusCode, 400)
      assert.deepEqual(await stored(d), before1)
      assert.deepEqual(await stored(d2), [])
    })

    it('answers 404 for an unknown domain', async () => {
      const unknown = newId()
      for (const [method, body] of [['GET', undefined], ['PUT', { config: custom }], ['PATCH', { config: custom }], ['DELETE', undefined]] as const) {
        const r = await h.call(method, cfg(unknown), { body })
        assert.equal(r.statusCode, 404, method)
        assert.equal(r.json().error.message, `Could not find domain: ${unknown}.`)
      }
      assert.deepEqual(await stored(unknown), [])
    })

    it('shows security compliance options for the default domain only', async () => {
      const r = await h.call('GET', cfg('default', '/security_compliance'), { token: t.member })
      assert.equal(r.statusCode, 200)
      assert.deepEqual(r.json().config, { security_compliance: { password_regex: null, password_regex_description: null } })
      assert.deepEqual((await h.call('GET', cfg('default', '/security_compliance/password_regex'))).json().config, { password_regex: null })
      assert.equal((await h.call('GET', cfg('default', '/security_compliance/lockout_duration'))).statusCode, 403)
      assert.equal((await h.call('GET', cfg(await addDomain(h), '/security_compliance'))).statusCode, 403)
      assert.equal((await h.call('PATCH', cfg('default', '/security_compliance'), { body: { config: { security_compliance: { password_regex: 'x' } } } })).statusCode, 403)
    })
  })

  it('lets only admins write, and admins or system readers read', async () => {
    const d = await addDomain(h)
    await put(d, custom)
    for (const token of [t.member, t.reader, t.systemReader]) {
      assert.equal((await h.call('PUT', cfg(d), { token, body: { config: custom } })).statusCode, 403)
      assert.equal((await h.call('PATCH', cfg(d), { token, body: { config: custom } })).statusCode, 403)
      assert.equal((await h.call('PATCH', cfg(d, '/identity/driver'), { token, body: { config: { driver: 'x' } } })).statusCode, 403)
      assert.equal((await h.call('DELETE', cfg(d, '/ldap'), { token })).statusCode, 403)
      assert.equal((await h.call('DELETE', cfg(d), { token })).statusCode, 403)
    }
    const reads = [cfg(d), cfg(d, '/ldap'), cfg(d, '/ldap/url'), '/v3/domains/config/default', '/v3/domains/config/ldap/default']
    for (const token of [t.member, t.reader]) {
      for (const url of reads) assert.equal((await h.call('GET', url, { token })).statusCode, 403, url)
    }
    for (const url of reads) assert.equal((await h.call('GET', url, { token: t.systemReader })).statusCode, 200, url)
    assert.deepEqual((await h.call('GET', cfg(d))).json().config, custom)
  })
})
