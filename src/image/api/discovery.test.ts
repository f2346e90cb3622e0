import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type ImageHarness, imageHarness } from '../testing.ts'

describe('image discovery, schemas, info, tasks API, auth', () => {
  let h: ImageHarness
  before(async () => { h = await imageHarness() })
  after(async () => { await h.close() })

  test('GET / is public: 300 with the versions; /versions is 200', async () => {
    const r = await h.json('GET', '/', { token: null })
    assert.equal(r.status, 300)
    const current = r.body.versions.filter((v: { status: string }) => v.status === 'CURRENT')
    assert.equal(current.length, 1)
    for (const v of r.body.versions) {
      assert.match(v.id, /^v2\.\d+$/)
      assert.deepEqual(v.links, [{ rel: 'self', href: 'http://localhost:80/v2/' }])
    }
    assert.equal((await h.json('GET', '/versions', { token: null })).status, 200)
  })

  test('everything under /v2 needs a token (401 in Glance\'s error shape)', async () => {
    const r = await h.json('GET', '/v2/images', { token: null })
    assert.equal(r.status, 401)
    assert.deepEqual(Object.keys(r.body).sort(), ['code', 'message', 'title'])
    assert.equal((await h.json('GET', '/v2/images', { token: 'not-a-token' })).status, 401)
  })

  test('schemas carry Glance\'s names; the image schema lists the configured formats', async () => {
    const names: Record<string, string> = {
      image: 'image', images: 'images', member: 'member', members: 'members', task: 'task', tasks: 'tasks',
      'metadefs/namespace': 'namespace', 'metadefs/namespaces': 'namespaces', 'metadefs/resource_type': 'resource_type_association',
      'metadefs/resource_types': 'resource_type_associations', 'metadefs/object': 'object', 'metadefs/objects': 'objects',
      'metadefs/property': 'property', 'metadefs/properties': 'properties', 'metadefs/tag': 'tag', 'metadefs/tags': 'tags',
    }
    for (const [path, name] of Object.entries(names)) {
      const r = await h.json('GET', `/v2/schemas/${path}`)
      assert.equal(r.status, 200, path)
      assert.equal(r.body.name, name, path)
    }
    const image = (await h.json('GET', '/v2/schemas/image')).body
    assert.deepEqual(image.additionalProperties, { type: 'string' })
    assert.ok(image.properties.disk_format.enum.includes('qcow2'))
    assert.equal((await h.json('POST', '/v2/schemas/image', { body: {} })).status, 405)
  })

  test('info: import methods; one store (404 like single-store Glance); no usage without unified limits', async () => {
    assert.deepEqual((await h.json('GET', '/v2/info/import')).body['import-methods'].value, ['glance-direct', 'web-download'])
    const stores = await h.json('GET', '/v2/info/stores')
    assert.equal(stores.status, 404)
    assert.equal(stores.body.message, 'Multi backend is not supported at this site.')
    assert.deepEqual((await h.json('GET', '/v2/info/usage')).body, { usage: {} })
  })

  test('tasks API: admin only; creating tasks is clearly not implemented; tasks are not deleted by hand', async () => {
    const u = await h.projectUser()
    assert.equal((await h.json('GET', '/v2/tasks', { token: u.token })).status, 403)
    const list = await h.json('GET', '/v2/tasks')
    assert.equal(list.status, 200)
    assert.equal(list.body.schema, '/v2/schemas/tasks')
    const post = await h.json('POST', '/v2/tasks', { body: { type: 'import', input: {} } })
    assert.equal(post.status, 501)
    assert.match(post.body.message, /POST \/v2\/images\/\{image_id\}\/import/)
    assert.equal((await h.json('GET', '/v2/tasks/nope')).status, 404)
    const del = await h.json('DELETE', '/v2/tasks/nope')
    assert.equal(del.status, 405)
    assert.equal((await h.json('GET', '/v2/tasks?status=bogus')).status, 400)
  })

  test('unsupported methods are 405 with Allow', async () => {
    const r = await h.call('PUT', '/v2/images')
    assert.equal(r.statusCode, 405)
    assert.equal(r.headers.allow, 'GET, POST')
  })
})
