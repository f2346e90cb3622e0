import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { type ImageHarness, imageHarness } from '../testing.ts'

describe('/v2/images/{id}/members', () => {
  let h: ImageHarness
  let owner: { projectId: string; token: string }
  let alt: { projectId: string; token: string }
  let third: { projectId: string; token: string }
  before(async () => {
    h = await imageHarness({ config: { memberQuota: 3 } })
    owner = await h.projectUser()
    alt = await h.projectUser()
    third = await h.projectUser()
  })
  after(async () => { await h.close() })

  const create = async (body: Record<string, unknown> = {}) => {
    const r = await h.json('POST', '/v2/images', { body: { disk_format: 'raw', container_format: 'bare', ...body }, token: owner.token })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return r.body.id as string
  }
  const listIds = async (token: string, q = '') =>
    (await h.json('GET', `/v2/images${q}`, { token })).body.images.map((i: { id: string }) => i.id) as string[]

  test('share, accept, list; the member sees the image only once accepted', async () => {
    const id = await create()
    const m = await h.json('POST', `/v2/images/${id}/members`, { body: { member: alt.projectId }, token: owner.token })
    assert.equal(m.status, 200, JSON.stringify(m.body))
    assert.deepEqual(Object.keys(m.body).sort(), ['created_at', 'image_id', 'member_id', 'schema', 'status', 'updated_at'])
    assert.equal(m.body.status, 'pending')
    assert.equal(m.body.schema, '/v2/schemas/member')
    // Pending: reachable by id, not in the default list, listed with member_status=pending.
    assert.equal((await h.json('GET', `/v2/images/${id}`, { token: alt.token })).status, 200)
    assert.ok(!(await listIds(alt.token)).includes(id))
    assert.deepEqual(await listIds(alt.token, '?visibility=shared&member_status=pending'), [id])
    assert.ok((await listIds(alt.token, '?member_status=all')).includes(id))
    // The owner cannot accept on the member's behalf.
    const ownerAccept = await h.json('PUT', `/v2/images/${id}/members/${alt.projectId}`, { body: { status: 'accepted' }, token: owner.token })
    assert.equal(ownerAccept.status, 403)
    const bad = await h.json('PUT', `/v2/images/${id}/members/${alt.projectId}`, { body: { status: 'maybe' }, token: alt.token })
    assert.equal(bad.status, 400)
    assert.match(bad.body.message, /Status must be "pending", "accepted" or "rejected"/)
    const ok = await h.json('PUT', `/v2/images/${id}/members/${alt.projectId}`, { body: { status: 'accepted' }, token: alt.token })
    assert.equal(ok.status, 200)
    assert.equal(ok.body.status, 'accepted')
    assert.ok((await listIds(alt.token)).includes(id))
    // A member may download a shared image but not change or delete it.
    assert.equal((await h.json('PATCH', `/v2/images/${id}`, { body: [{ op: 'replace', path: '/name', value: 'x' }],
      type: 'application/openstack-images-v2.1-json-patch', token: alt.token })).status, 403)
    assert.equal((await h.json('DELETE', `/v2/images/${id}`, { token: alt.token })).status, 403)
    // The owner lists all members; the member only its own membership; others see nothing.
    await h.json('POST', `/v2/images/${id}/members`, { body: { member: third.projectId }, token: owner.token })
    assert.equal((await h.json('GET', `/v2/images/${id}/members`, { token: owner.token })).body.members.length, 2)
    const own = (await h.json('GET', `/v2/images/${id}/members`, { token: alt.token })).body
    assert.deepEqual(own.members.map((x: { member_id: string }) => x.member_id), [alt.projectId])
    assert.equal(own.schema, '/v2/schemas/members')
    assert.equal((await h.json('GET', `/v2/images/${id}/members/${third.projectId}`, { token: alt.token })).status, 404)
    assert.equal((await h.json('GET', `/v2/images/${id}/members/${alt.projectId}`, { token: alt.token })).body.status, 'accepted')
    const stranger = await h.projectUser()
    assert.equal((await h.json('GET', `/v2/images/${id}/members`, { token: stranger.token })).status, 404)
    // Rejected: gone from the list again; removed: not even reachable.
    await h.json('PUT', `/v2/images/${id}/members/${alt.projectId}`, { body: { status: 'rejected' }, token: alt.token })
    assert.ok(!(await listIds(alt.token)).includes(id))
    assert.equal((await h.call('DELETE', `/v2/images/${id}/members/${alt.projectId}`, { token: alt.token })).statusCode, 403)
    assert.equal((await h.call('DELETE', `/v2/images/${id}/members/${alt.projectId}`, { token: owner.token })).statusCode, 204)
    assert.equal((await h.json('GET', `/v2/images/${id}`, { token: alt.token })).status, 404)
    assert.equal((await h.call('DELETE', `/v2/images/${id}/members/${alt.projectId}`, { token: owner.token })).statusCode, 404)
  })

  test('bad requests: non-shared images, duplicates, missing member, quota', async () => {
    const priv = await create({ visibility: 'private' })
    const r = await h.json('POST', `/v2/images/${priv}/members`, { body: { member: alt.projectId }, token: owner.token })
    assert.equal(r.status, 403)
    const listPriv = await h.json('GET', `/v2/images/${priv}/members`, { token: owner.token })
    assert.equal(listPriv.status, 403)
    assert.match(listPriv.body.message, /Only shared images have members/)
    const id = await create()
    for (const [body, msg] of [[{}, /Member to be added not specified/], [{ member: '' }, /can't be empty/], [[1], /Expected a member/]] as const) {
      const x = await h.json('POST', `/v2/images/${id}/members`, { body, token: owner.token })
      assert.equal(x.status, 400)
      assert.match(x.body.message, msg)
    }
    assert.equal((await h.json('PUT', `/v2/images/${id}/members/${alt.projectId}`, { body: {}, token: alt.token })).status, 400)
    await h.json('POST', `/v2/images/${id}/members`, { body: { member: alt.projectId }, token: owner.token })
    const dup = await h.json('POST', `/v2/images/${id}/members`, { body: { member: alt.projectId }, token: owner.token })
    assert.equal(dup.status, 409)
    for (let i = 0; i < 2; i++) await h.json('POST', `/v2/images/${id}/members`, { body: { member: randomUUID() }, token: owner.token })
    const over = await h.json('POST', `/v2/images/${id}/members`, { body: { member: randomUUID() }, token: owner.token })
    assert.equal(over.status, 413)
    // Only the owner adds members.
    assert.equal((await h.json('POST', `/v2/images/${id}/members`, { body: { member: third.projectId }, token: alt.token })).status, 403)
    assert.equal((await h.json('POST', `/v2/images/${randomUUID()}/members`, { body: { member: alt.projectId }, token: owner.token })).status, 404)
  })
})
