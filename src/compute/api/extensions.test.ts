import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ComputeHarness, computeHarness } from '../testing.ts'

describe('extensions', () => {
  let h: ComputeHarness
  before(async () => { h = await computeHarness() })
  after(async () => { await h.close() })

  it('lists the v2 extensions served, shows one by alias, 404 for others; a token is needed', async () => {
    const member = await h.projectUser('member')
    let r = await h.json('GET', '/v2.1/extensions', { token: member.token })
    assert.equal(r.status, 200)
    const hosts = r.body.extensions.find((e: any) => e.alias === 'os-hosts')
    assert.deepEqual(hosts, { name: 'Hosts', alias: 'os-hosts', description: 'Admin-only host administration.',
      namespace: 'http://docs.openstack.org/compute/ext/fake_xml', updated: '2014-12-03T00:00:00Z', links: [] })
    r = await h.json('GET', '/v2.1/extensions/os-keypairs', { token: member.token })
    assert.equal(r.body.extension.name, 'Keypairs')
    assert.equal((await h.json('GET', '/v2.1/extensions/os-cells', { token: member.token })).status, 404)
    assert.equal((await h.json('GET', '/v2.1/extensions', { token: null })).status, 401)
  })
})
