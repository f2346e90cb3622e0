import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { type ImageHarness, imageHarness } from '../testing.ts'

const PATCH = 'application/openstack-images-v2.1-json-patch'
const PATCH_D4 = 'application/openstack-images-v2.0-json-patch'

describe('/v2/images', () => {
  let h: ImageHarness
  before(async () => { h = await imageHarness({ config: { tagQuota: 3, propertyQuota: 4 } }) })
  after(async () => { await h.close() })

  const create = async (body: Record<string, unknown> = {}, token?: string) => {
    const r = await h.json('POST', '/v2/images', { body: { disk_format: 'raw', container_format: 'bare', ...body }, token })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return r.body
  }
  const patch = (id: string, ops: unknown, o: { token?: string; type?: string } = {}) =>
    h.json('PATCH', `/v2/images/${id}`, { body: ops, type: o.type ?? PATCH, token: o.token })

  test('create shows Glance\'s image shape, Location and the import-methods header', async () => {
    const id = randomUUID()
    const r = await h.json('POST', '/v2/images', { body: { id, name: 'cirros', disk_format: 'qcow2', container_format: 'bare',
      min_disk: 1, min_ram: 64, tags: ['b', 'a', 'a'], os_distro: 'cirros', ramdisk_id: null } })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.equal(r.headers.location, `http://localhost:80/v2/images/${id}`)
    assert.equal(r.headers['openstack-image-import-methods'], 'glance-direct,web-download')
    const i = r.body
    assert.deepEqual(Object.keys(i).sort(), ['checksum', 'container_format', 'created_at', 'disk_format', 'file', 'id', 'min_disk',
      'min_ram', 'name', 'os_distro', 'os_hash_algo', 'os_hash_value', 'os_hidden', 'owner', 'protected', 'ramdisk_id', 'schema',
      'self', 'size', 'status', 'tags', 'updated_at', 'virtual_size', 'visibility'])
    assert.equal(i.status, 'queued')
    assert.equal(i.visibility, 'shared')
    assert.equal(i.owner, h.identity.adminProjectId)
    assert.deepEqual(i.tags.sort(), ['a', 'b'])
    assert.equal(i.ramdisk_id, '')
    assert.equal(i.size, null)
    assert.match(i.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    assert.equal(i.self, `/v2/images/${id}`)
    assert.equal(i.file, `/v2/images/${id}/file`)
    assert.deepEqual((await h.json('GET', `/v2/images/${id}`)).body, i)
    // The id is never reused, even after a delete.
    assert.equal((await h.json('DELETE', `/v2/images/${id}`)).status, 204)
    const again = await h.json('POST', '/v2/images', { body: { id } })
    assert.equal(again.status, 409)
    assert.equal(again.body.message, `Image with identifier ${id} already exists!`)
  })

  test('bad input gets Glance\'s errors and creates nothing', async () => {
    const before = (await h.json('GET', '/v2/images?limit=1000')).body.images.length
    const cases: Array<[Record<string, unknown> | unknown, number, RegExp]> = [
      [{ container_format: 'wrong' }, 400, /does not match schema 'image'/],
      [{ disk_format: 'wrong' }, 400, /does not match schema 'image'/],
      [{ name: 'x'.repeat(256) }, 400, /does not match schema/],
      [{ min_disk: -1 }, 400, /Cannot be a negative value/],
      [{ min_ram: 2 ** 31 }, 400, /out of range/],
      [{ id: 'not-a-uuid' }, 400, /does not match schema/],
      [{ foo: 1 }, 400, /does not match schema/],
      [{ tags: [1] }, 400, /does not match schema/],
      [{ status: 'active' }, 403, /Attribute 'status' is read-only/],
      [{ self: '/x' }, 403, /read-only/],
      [{ location: 'x' }, 403, /Attribute 'location' is reserved/],
      [{ os_glance_foo: 'bar' }, 403, /reserved/],
      [{ visibility: 'bogus' }, 400, /does not match schema/],
      [{ tags: ['a', 'b', 'c', 'd'] }, 413, /number of allowed image tags/],
      [{ p1: 'a', p2: 'b', p3: 'c', p4: 'd', p5: 'e' }, 413, /number of allowed image properties/],
      [[], 400, /Body expected/],
    ]
    for (const [body, status, msg] of cases) {
      const r = await h.json('POST', '/v2/images', { body })
      assert.equal(r.status, status, `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`)
      assert.match(r.body.message, msg)
      assert.equal(r.body.code, `${status} ${r.body.title}`)
    }
    const malformed = await h.json('POST', '/v2/images', { body: '{"name": ', type: 'application/json' })
    assert.equal(malformed.status, 400)
    assert.equal((await h.json('GET', '/v2/images?limit=1000')).body.images.length, before)
  })

  test('members of a project create their own images; publicizing is for the admin; owner only for the admin', async () => {
    const u = await h.projectUser('member')
    const mine = await create({ name: 'mine' }, u.token)
    assert.equal(mine.owner, u.projectId)
    const pub = await h.json('POST', '/v2/images', { body: { visibility: 'public' }, token: u.token })
    assert.equal(pub.status, 403)
    const other = await h.json('POST', '/v2/images', { body: { owner: randomUUID().replace(/-/g, '') }, token: u.token })
    assert.equal(other.status, 403)
    assert.match(other.body.message, /You are not permitted to create images owned by/)
    assert.equal((await create({ visibility: 'community' }, u.token)).visibility, 'community')
    const reader = await h.projectUser('reader')
    assert.equal((await h.json('POST', '/v2/images', { body: {}, token: reader.token })).status, 403)
    // The admin may create images for any project, public ones too.
    const owner = randomUUID().replace(/-/g, '')
    const adm = await create({ owner, visibility: 'public' })
    assert.equal(adm.owner, owner)
    const pr = await patch(mine.id, [{ op: 'replace', path: '/owner', value: owner }], { token: u.token })
    assert.equal(pr.status, 403)
    assert.equal((await patch(adm.id, [{ op: 'replace', path: '/owner', value: u.projectId }])).body.owner, u.projectId)
  })

  test('visibility: private images are invisible to others (404), public and community ones readable', async () => {
    const a = await h.projectUser()
    const b = await h.projectUser()
    const priv = await create({ visibility: 'private' }, a.token)
    const comm = await create({ visibility: 'community' }, a.token)
    const pub = await create({ visibility: 'public' })
    const notFound = await h.json('GET', `/v2/images/${priv.id}`, { token: b.token })
    assert.equal(notFound.status, 404)
    assert.equal(notFound.body.message, `No image found with ID ${priv.id}`)
    assert.equal((await h.json('GET', `/v2/images/${comm.id}`, { token: b.token })).status, 200)
    assert.equal((await h.json('GET', `/v2/images/${pub.id}`, { token: b.token })).status, 200)
    // Others cannot change or delete what they can see: 403; what they cannot see: 404.
    assert.equal((await patch(pub.id, [{ op: 'replace', path: '/name', value: 'x' }], { token: b.token })).status, 403)
    assert.equal((await h.json('DELETE', `/v2/images/${comm.id}`, { token: b.token })).status, 403)
    assert.equal((await h.json('DELETE', `/v2/images/${priv.id}`, { token: b.token })).status, 404)
    const ids = (l: any) => l.body.images.map((i: any) => i.id)
    const listB = await h.json('GET', '/v2/images', { token: b.token })
    assert.ok(ids(listB).includes(pub.id))
    assert.ok(!ids(listB).includes(priv.id))
    assert.ok(!ids(listB).includes(comm.id), 'community images are listed only on request')
    assert.ok(ids(await h.json('GET', '/v2/images?visibility=community', { token: b.token })).includes(comm.id))
    assert.ok(ids(await h.json('GET', '/v2/images', { token: a.token })).includes(comm.id), 'its owner sees it')
  })

  test('JSON patch, both dialects: replace, add, remove, with Glance\'s errors', async () => {
    const img = await create({ name: 'p', color: 'red' })
    let r = await patch(img.id, [
      { op: 'replace', path: '/name', value: 'p2' }, { op: 'add', path: '/size_hint', value: 'big' },
      { op: 'replace', path: '/color', value: 'blue' }, { op: 'add', path: '/tags', value: ['t1'] },
      { op: 'replace', path: '/min_ram', value: 512 }, { op: 'replace', path: '/protected', value: true },
      { op: 'add', path: '/a~1b', value: 'slash' },
    ])
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.name, 'p2')
    assert.equal(r.body.size_hint, 'big')
    assert.equal(r.body.color, 'blue')
    assert.equal(r.body['a/b'], 'slash')
    assert.deepEqual(r.body.tags, ['t1'])
    assert.equal(r.body.min_ram, 512)
    assert.equal(r.body.protected, true)
    r = await patch(img.id, [{ remove: '/color' }, { replace: '/protected', value: false }], { type: PATCH_D4 })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.color, undefined)
    const bad: Array<[unknown, number, RegExp, string?]> = [
      [[{ op: 'replace', path: '/nope', value: 'x' }], 409, /Property nope does not exist/],
      [[{ op: 'remove', path: '/nope' }], 409, /Property nope does not exist/],
      [[{ op: 'remove', path: '/name' }], 403, /Property name may not be removed/],
      [[{ op: 'replace', path: '/status', value: 'active' }], 403, /read-only/],
      [[{ op: 'replace', path: '/os_glance_x', value: 'v' }], 403, /reserved/],
      [[{ op: 'move', path: '/name' }], 400, /Invalid operation/],
      [[{ op: 'add', path: 'name', value: 'x' }], 400, /does not start with/],
      [[{ op: 'add', path: '/a/b', value: 'x' }], 400, /Invalid JSON pointer/],
      [[{ op: 'add', path: '/name' }], 400, /requires a member named "value"/],
      [[{ op: 'replace', path: '/visibility', value: 'everyone' }], 400, /does not match schema/],
      [[{ op: 'replace', path: '/min_disk', value: -5 }], 400, /negative/],
      [[{ op: 'add', path: '/x', value: 5 }], 400, /does not match schema/],
      [[{ op: 'add', path: '/locations/-', value: { url: 'http://x', metadata: {} } }], 403, /locations are invisible/],
      [[{ add: '/size_hint', value: 'again' }], 409, /already present/, PATCH_D4],
      [{ op: 'add' }, 400, /JSON array/],
      [['x'], 400, /must be JSON objects/],
    ]
    for (const [ops, status, msg, type] of bad) {
      const x = await patch(img.id, ops, { type })
      assert.equal(x.status, status, `${JSON.stringify(ops)} → ${x.status} ${JSON.stringify(x.body)}`)
      assert.match(x.body.message, msg)
    }
    // A patch with one bad change changes nothing.
    const mixed = await patch(img.id, [{ op: 'replace', path: '/name', value: 'changed' }, { op: 'remove', path: '/nope' }])
    assert.equal(mixed.status, 409)
    assert.equal((await h.json('GET', `/v2/images/${img.id}`)).body.name, 'p2')
    const media = await h.json('PATCH', `/v2/images/${img.id}`, { body: [], type: 'application/json' })
    assert.equal(media.status, 415)
    assert.match(String(media.headers['accept-patch']), /openstack-images-v2.1-json-patch/)
  })

  test('protected images cannot be deleted; deleted ones are gone', async () => {
    const img = await create({ protected: true })
    const d = await h.json('DELETE', `/v2/images/${img.id}`)
    assert.equal(d.status, 403)
    assert.equal(d.body.message, `Image ${img.id} is protected and cannot be deleted.`)
    await patch(img.id, [{ op: 'replace', path: '/protected', value: false }])
    assert.equal((await h.json('DELETE', `/v2/images/${img.id}`)).status, 204)
    assert.equal((await h.json('GET', `/v2/images/${img.id}`)).status, 404)
    assert.equal((await h.json('DELETE', `/v2/images/${img.id}`)).status, 404)
    assert.equal((await h.json('GET', '/v2/images/')).status, 404)
    assert.equal((await h.json('DELETE', '/v2/images/')).status, 404)
    assert.equal((await h.json('PUT', '/v2/images')).status, 405)
  })

  test('tags endpoints', async () => {
    const img = await create({ tags: ['one'] })
    assert.equal((await h.call('PUT', `/v2/images/${img.id}/tags/two`)).statusCode, 204)
    assert.equal((await h.call('PUT', `/v2/images/${img.id}/tags/two`)).statusCode, 204)
    assert.deepEqual((await h.json('GET', `/v2/images/${img.id}`)).body.tags, ['one', 'two'])
    assert.equal((await h.call('PUT', `/v2/images/${img.id}/tags/three`)).statusCode, 204)
    assert.equal((await h.call('PUT', `/v2/images/${img.id}/tags/four`)).statusCode, 413)
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}/tags/one`)).statusCode, 204)
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}/tags/one`)).statusCode, 404)
    assert.equal((await h.call('PUT', `/v2/images/${randomUUID()}/tags/x`)).statusCode, 404)
  })

  test('list: filters, sorting both ways, pagination with next links', async () => {
    const tag = `t-${randomUUID().slice(0, 6)}`
    const made = []
    for (let i = 0; i < 5; i++) {
      made.push(await create({ name: `${tag}-${i}`, tags: [tag], disk_format: i % 2 ? 'qcow2' : 'raw', min_ram: i, kind: i < 2 ? 'small' : 'big' }))
    }
    const list = async (q: string) => {
      const r = await h.json('GET', `/v2/images?tag=${tag}&${q}`)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      return r.body
    }
    assert.equal((await list('')).images.length, 5)
    assert.deepEqual((await list('disk_format=qcow2')).images.map((i: any) => i.name).sort(), [`${tag}-1`, `${tag}-3`])
    assert.equal((await list('kind=small')).images.length, 2)
    assert.equal((await list(`name=in:${tag}-0,"${tag}-4"`)).images.length, 2)
    assert.equal((await list('min_ram=3')).images.length, 1)
    assert.deepEqual((await list('sort=name:asc')).images.map((i: any) => i.name), made.map((i) => i.name))
    assert.deepEqual((await list('sort_key=name&sort_dir=desc')).images.map((i: any) => i.name), made.map((i) => i.name).reverse())
    // Page through two at a time.
    const seen: string[] = []
    let page = await list('limit=2&sort=name:asc')
    assert.equal(page.first, `/v2/images?tag=${tag}&limit=2&sort=name%3Aasc`)
    for (;;) {
      seen.push(...page.images.map((i: any) => i.name))
      if (!page.next) break
      const r = await h.json('GET', page.next)
      page = r.body
    }
    assert.deepEqual(seen, made.map((i) => i.name))
    for (const [q, msg] of [['limit=x', /limit param must be an integer/], ['limit=-1', /must be positive/],
      ['sort_key=bogus', /Invalid sort key/], ['sort_dir=up', /Invalid sort direction/], ['visibility=everyone', /Invalid visibility/],
      ['member_status=maybe', /Invalid status/], ['sort=name&sort_key=id', /cannot be combined/], ['marker=' + randomUUID(), /No image found/],
      ['size_min=big', /non-numeric/], ['created_at=after:2020', /unknown operator/], ['os_hidden=maybe', /os_hidden/],
      ['name=like:x', /unknown operator/], ['size=abc', /integer is expected/]] as const) {
      const r = await h.json('GET', `/v2/images?${q}`)
      assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`)
      assert.match(r.body.message, msg)
    }
    const hidden = await create({ os_hidden: true, tags: [tag] })
    assert.ok(!(await list('')).images.some((i: any) => i.id === hidden.id))
    assert.ok((await list('os_hidden=true')).images.some((i: any) => i.id === hidden.id))
  })

  test('deactivate and reactivate need an active image; deactivated data is the admin\'s only', async () => {
    const img = await create({})
    const d = await h.json('POST', `/v2/images/${img.id}/actions/deactivate`)
    assert.equal(d.status, 403)
    assert.match(d.body.message, /Not allowed to deactivate image in status 'queued'/)
  })
})
