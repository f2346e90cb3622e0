import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { MAX_VERSION } from '../microversion.ts'

describe('compute version discovery and microversions', () => {
  let h: ComputeHarness
  before(async () => { h = await computeHarness() })
  after(async () => { await h.close() })

  test('GET / lists v2.0 (legacy) and v2.1 without a token', async () => {
    const r = await h.json('GET', '/', { token: null, headers: { host: 'nova.test:8774' } })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.versions, [{ id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '',
      updated: '2011-01-21T11:33:21Z', links: [{ rel: 'self', href: 'http://nova.test:8774/v2/' }] }, { id: 'v2.1', status: 'CURRENT', version: MAX_VERSION, min_version: '2.1',
      updated: '2013-07-23T11:33:21Z', links: [{ rel: 'self', href: 'http://nova.test:8774/v2.1/' }] }])
  })

  test('GET /v2.1 and /v2.1/ give the version document with media types', async () => {
    for (const url of ['/v2.1', '/v2.1/']) {
      const r = await h.json('GET', url, { token: null })
      assert.equal(r.status, 200)
      assert.equal(r.body.version.id, 'v2.1')
      assert.equal(r.body.version.min_version, '2.1')
      assert.equal(r.body.version.version, MAX_VERSION)
      assert.equal(r.body.version['media-types'][0].type, 'application/vnd.openstack.compute+json;version=2.1')
      assert.ok(r.body.version.links.some((l: any) => l.rel === 'describedby'))
    }
  })

  test('legacy /v2: its version document, and the v2.1 API at 2.1 whatever the headers ask', async () => {
    for (const url of ['/v2', '/v2/']) {
      const r = await h.json('GET', url, { token: null, headers: { host: 'nova.test:8774' } })
      assert.equal(r.status, 200)
      assert.equal(r.body.version.id, 'v2.0')
      assert.deepEqual(r.body.version.links[0], { rel: 'self', href: 'http://nova.test:8774/v2/' })
    }
    let r = await h.call('GET', '/v2/flavors', { version: '2.55' })
    assert.equal(r.statusCode, 200)
    assert.equal(r.headers['openstack-api-version'], undefined)
    assert.ok(Array.isArray(JSON.parse(r.body).flavors))
    r = await h.call('GET', '/v2/flavors', { token: null })
    assert.equal(r.statusCode, 401)
    const created = await h.json('POST', '/v2/os-keypairs', { body: { keypair: { name: 'legacy-kp' } } })
    assert.equal(created.status, 200, JSON.stringify(created.body))
    assert.equal(created.body.keypair.name, 'legacy-kp')
    assert.equal((await h.json('GET', '/v2/servers/00000000-0000-4000-8000-000000000000')).status, 404)
  })

  test('no header means 2.1; both headers and Vary are echoed', async () => {
    const r = await h.call('GET', '/v2.1/flavors')
    assert.equal(r.statusCode, 200)
    assert.equal(r.headers['x-openstack-nova-api-version'], '2.1')
    assert.equal(r.headers['openstack-api-version'], 'compute 2.1')
    assert.match(String(r.headers.vary), /OpenStack-API-Version/)
    assert.match(String(r.headers.vary), /X-OpenStack-Nova-API-Version/)
  })

  test('legacy and new headers, "latest", the new one preferred', async () => {
    let r = await h.call('GET', '/v2.1/flavors', { headers: { 'x-openstack-nova-api-version': '2.10' } })
    assert.equal(r.headers['x-openstack-nova-api-version'], '2.10')
    r = await h.call('GET', '/v2.1/flavors', { version: 'latest' })
    assert.equal(r.headers['openstack-api-version'], `compute ${MAX_VERSION}`)
    r = await h.call('GET', '/v2.1/flavors', { headers: { 'openstack-api-version': 'volume 3.5, compute 2.55', 'x-openstack-nova-api-version': '2.3' } })
    assert.equal(r.headers['x-openstack-nova-api-version'], '2.55')
  })

  test('out of range: 406 with Nova message; malformed: 400', async () => {
    let r = await h.json('GET', '/v2.1/flavors', { version: '2.999' })
    assert.equal(r.status, 406)
    assert.equal(r.body.computeFault?.message ?? Object.values(r.body as object)[0].message,
      `Version 2.999 is not supported by the API. Minimum is 2.1 and maximum is ${MAX_VERSION}.`)
    r = await h.json('GET', '/v2.1/flavors', { version: '2.0' })
    assert.equal(r.status, 406)
    r = await h.json('GET', '/v2.1/flavors', { version: 'two' })
    assert.equal(r.status, 400)
    assert.match(r.body.badRequest.message, /API Version String two is of invalid format/)
  })

  test('unauthenticated calls get 401 JSON; unknown paths 404 in Nova shape', async () => {
    let r = await h.json('GET', '/v2.1/flavors', { token: null })
    assert.equal(r.status, 401)
    assert.ok(r.body.unauthorized)
    r = await h.json('GET', '/v2.1/no-such-resource')
    assert.equal(r.status, 404)
    assert.ok(r.body.itemNotFound)
  })
})
