import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type ComputeHarness, computeHarness } from '../testing.ts'

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE3FiC1h/0eR6NmiqvgyX91RRlEByqx/XH9jazykGC3s test@cumulo'

describe('limits and quota sets', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  before(async () => {
    h = await computeHarness()
    member = await h.projectUser('member')
  })
  after(async () => { await h.close() })

  test('/limits: absolute limits from quotas, per microversion, used counted honestly', async () => {
    let r = await h.json('GET', '/v2.1/limits', { token: member.token })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.limits.rate, [])
    const a = r.body.limits.absolute
    assert.equal(a.maxTotalInstances, 10)
    assert.equal(a.maxTotalCores, 20)
    assert.equal(a.maxTotalRAMSize, 51200)
    assert.equal(a.maxTotalKeypairs, 100)
    assert.equal(a.maxServerMeta, 128)
    assert.equal(a.maxImageMeta, 128)
    assert.equal(a.maxPersonality, 5)
    assert.equal(a.maxSecurityGroups, 10)
    assert.equal(a.totalInstancesUsed, 0)
    assert.equal(a.totalRAMUsed, 0)
    r = await h.json('GET', '/v2.1/limits', { token: member.token, version: '2.57' })
    const b = r.body.limits.absolute
    for (const gone of ['maxSecurityGroups', 'maxTotalFloatingIps', 'totalFloatingIpsUsed', 'maxImageMeta', 'maxPersonality', 'maxPersonalitySize']) {
      assert.equal(b[gone], undefined, gone)
    }
    assert.equal(b.maxTotalCores, 20)
  })

  test('show, defaults, detail (key pairs in use counted), update, delete', async () => {
    const url = `/v2.1/os-quota-sets/${member.projectId}`
    let r = await h.json('GET', url, { token: member.token })
    assert.equal(r.status, 200)
    assert.equal(r.body.quota_set.id, member.projectId)
    assert.equal(r.body.quota_set.instances, 10)
    assert.equal(r.body.quota_set.floating_ips, 10)
    assert.equal(r.body.quota_set.injected_files, 5)
    r = await h.json('GET', url, { token: member.token, version: '2.57' })
    assert.deepEqual(Object.keys(r.body.quota_set).sort(), ['cores', 'id', 'instances', 'key_pairs', 'metadata_items', 'ram',
      'server_group_members', 'server_groups'])
    r = await h.json('GET', `${url}/defaults`, { token: member.token })
    assert.equal(r.body.quota_set.cores, 20)

    await h.json('POST', '/v2.1/os-keypairs', { token: member.token, body: { keypair: { name: 'k1', public_key: ED25519 } } })
    r = await h.json('GET', `${url}/detail?user_id=${member.userId}`, { token: member.token })
    assert.deepEqual(r.body.quota_set.key_pairs, { in_use: 1, limit: 100, reserved: 0 })
    assert.deepEqual(r.body.quota_set.instances, { in_use: 0, limit: 10, reserved: 0 })

    r = await h.json('PUT', url, { token: member.token, body: { quota_set: { instances: 50 } } })
    assert.equal(r.status, 403)
    r = await h.json('PUT', url, { body: { quota_set: { instances: 50, cores: '40', key_pairs: -1 } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.quota_set.id, undefined)
    assert.equal(r.body.quota_set.instances, 50)
    assert.equal(r.body.quota_set.cores, 40)
    r = await h.json('GET', '/v2.1/limits', { token: member.token })
    assert.equal(r.body.limits.absolute.maxTotalInstances, 50)
    r = await h.json('GET', `/v2.1/limits?tenant_id=${member.projectId}`)
    assert.equal(r.body.limits.absolute.maxTotalInstances, 50)
    r = await h.json('DELETE', url)
    assert.equal(r.status, 202)
    assert.equal((await h.json('GET', url)).body.quota_set.instances, 10)
  })

  test('bad updates are 400 and change nothing; other projects are off limits', async () => {
    const url = `/v2.1/os-quota-sets/${member.projectId}`
    for (const quota_set of [{ instances: -2 }, { instances: 'many' }, { bogus: 1 }, { floating_ips: 1, force: 'perhaps' }]) {
      const r = await h.json('PUT', url, { body: { quota_set } })
      assert.equal(r.status, 400, JSON.stringify(quota_set))
      assert.ok(r.body.badRequest)
    }
    let r = await h.json('PUT', url, { version: '2.36', body: { quota_set: { floating_ips: 1 } } })
    assert.equal(r.status, 400)
    // A user's key pair quota below what the user already has.
    r = await h.json('PUT', `${url}?user_id=${member.userId}`, { body: { quota_set: { key_pairs: 0 } } })
    assert.equal(r.status, 400)
    assert.match(r.body.badRequest.message, /must be greater than or equal to already used and reserved 1/)
    r = await h.json('PUT', `${url}?user_id=${member.userId}`, { body: { quota_set: { key_pairs: 1, force: true } } })
    assert.equal(r.status, 200)
    r = await h.json('POST', '/v2.1/os-keypairs', { token: member.token, body: { keypair: { name: 'k2', public_key: ED25519 } } })
    assert.equal(r.status, 403)
    assert.equal(r.body.forbidden.message, 'Quota exceeded, too many key pairs.')
    assert.equal((await h.json('GET', url)).body.quota_set.instances, 10)
    const other = await h.projectUser('member')
    r = await h.json('GET', `/v2.1/os-quota-sets/${other.projectId}`, { token: member.token })
    assert.equal(r.status, 403)
    r = await h.json('GET', `/v2.1/limits?tenant_id=${other.projectId}`, { token: member.token })
    assert.equal(r.status, 200)
  })
})

describe('quota classes', () => {
  test('the default class sets every project\'s defaults; admin only; per microversion', async () => {
    const h = await computeHarness()
    try {
      const member = await h.projectUser('member')
      let r = await h.json('GET', '/v2.1/os-quota-class-sets/default')
      assert.equal(r.status, 200)
      assert.equal(r.body.quota_class_set.id, 'default')
      assert.equal(r.body.quota_class_set.floating_ips, 10)
      assert.equal(r.body.quota_class_set.server_groups, undefined)
      r = await h.json('GET', '/v2.1/os-quota-class-sets/default', { version: '2.57' })
      assert.deepEqual(Object.keys(r.body.quota_class_set).sort(), ['cores', 'id', 'instances', 'key_pairs', 'metadata_items', 'ram',
        'server_group_members', 'server_groups'])
      assert.equal((await h.json('GET', '/v2.1/os-quota-class-sets/default', { token: member.token })).status, 403)
      r = await h.json('PUT', '/v2.1/os-quota-class-sets/default', { token: member.token, body: { quota_class_set: { instances: 7 } } })
      assert.equal(r.status, 403)
      r = await h.json('PUT', '/v2.1/os-quota-class-sets/default', { body: { quota_class_set: { server_groups: 7 } } })
      assert.equal(r.status, 400)
      r = await h.json('PUT', '/v2.1/os-quota-class-sets/default', { body: { quota_class_set: { instances: 7, cores: '9' } } })
      assert.equal(r.status, 200)
      assert.equal(r.body.quota_class_set.id, undefined)
      assert.equal(r.body.quota_class_set.instances, 7)
      r = await h.json('GET', `/v2.1/os-quota-sets/${member.projectId}/defaults`)
      assert.equal(r.body.quota_set.instances, 7)
      r = await h.json('GET', '/v2.1/limits', { token: member.token })
      assert.equal(r.body.limits.absolute.maxTotalCores, 9)
    } finally { await h.close() }
  })
})
