import assert from 'node:assert/strict'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type ImageHarness, imageHarness } from '../testing.ts'

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex')
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex')
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

describe('image data: upload, download, stage, import', () => {
  let h: ImageHarness
  before(async () => { h = await imageHarness({ config: { imageSizeCap: 64 * 1024 } }) })
  after(async () => { await h.close() })

  const create = async (body: Record<string, unknown> = {}, token?: string) => {
    const r = await h.json('POST', '/v2/images', { body: { disk_format: 'raw', container_format: 'bare', ...body }, token })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return r.body
  }
  const upload = (id: string, data: Buffer, o: { token?: string; type?: string; headers?: Record<string, string> } = {}) =>
    h.json('PUT', `/v2/images/${id}/file`, { payload: data, type: o.type, token: o.token, headers: o.headers })
  const dataFiles = () => readdirSync(join(h.dataDir, 'images')).filter((f) => !f.startsWith('.staging'))

  test('upload (204) makes the image active with size, MD5 checksum and SHA-512 hash; download streams it back', async () => {
    const img = await create()
    const empty = await h.call('GET', `/v2/images/${img.id}/file`)
    assert.equal(empty.statusCode, 204)
    assert.equal(empty.body, '')
    const data = randomBytes(20_000)
    const up = await upload(img.id, data)
    assert.equal(up.status, 204, JSON.stringify(up.body))
    const shown = (await h.json('GET', `/v2/images/${img.id}`)).body
    assert.equal(shown.status, 'active')
    assert.equal(shown.size, data.length)
    assert.equal(shown.checksum, md5(data))
    assert.equal(shown.os_hash_algo, 'sha512')
    assert.equal(shown.os_hash_value, sha512(data))
    const d = await h.call('GET', `/v2/images/${img.id}/file`)
    assert.equal(d.statusCode, 200)
    assert.equal(d.headers['content-type'], 'application/octet-stream')
    assert.equal(d.headers['content-md5'], md5(data))
    assert.equal(d.headers['content-length'], String(data.length))
    assert.deepEqual(d.rawPayload, data)
    // Ranges (206), and ranges that cannot be satisfied (416).
    const part = await h.call('GET', `/v2/images/${img.id}/file`, { headers: { range: 'bytes=100-199' } })
    assert.equal(part.statusCode, 206)
    assert.equal(part.headers['content-range'], `bytes 100-199/${data.length}`)
    assert.deepEqual(part.rawPayload, data.subarray(100, 200))
    const tail = await h.call('GET', `/v2/images/${img.id}/file`, { headers: { range: 'bytes=-10' } })
    assert.deepEqual(tail.rawPayload, data.subarray(data.length - 10))
    assert.equal((await h.call('GET', `/v2/images/${img.id}/file`, { headers: { range: `bytes=${data.length}-` } })).statusCode, 416)
    // A second upload to an active image is a conflict.
    const again = await upload(img.id, data)
    assert.equal(again.status, 409)
    assert.match(again.body.message, /transition from active to saving/)
  })

  test('uploads that cannot be accepted leave the image queued and no data behind', async () => {
    const noFormats = await h.json('POST', '/v2/images', { body: { name: 'no formats' } })
    const r1 = await upload(noFormats.body.id, Buffer.from('x'))
    assert.equal(r1.status, 400)
    assert.match(r1.body.message, /Properties disk_format, container_format must be set prior to saving data/)

    const img = await create()
    const files = dataFiles().length
    const wrongType = await upload(img.id, Buffer.from('abc'), { type: 'application/json' })
    assert.equal(wrongType.status, 415)
    const tooBig = await upload(img.id, randomBytes(64 * 1024 + 1))
    assert.equal(tooBig.status, 413)
    assert.match(tooBig.body.message, /too large/)
    const shortBody = await upload(img.id, Buffer.from('abc'), { headers: { 'x-openstack-image-size': '10' } })
    assert.equal(shortBody.status, 400)
    assert.match(shortBody.body.message, /does not match the declared size/)
    const badSize = await upload(img.id, Buffer.from('abc'), { headers: { 'x-openstack-image-size': 'ten' } })
    assert.equal(badSize.status, 400)
    const after = (await h.json('GET', `/v2/images/${img.id}`)).body
    assert.equal(after.status, 'queued')
    assert.equal(after.size, null)
    assert.equal(dataFiles().length, files)
    assert.equal((await upload(img.id, Buffer.from('fine'))).status, 204)
  })

  test('the digests the SDK records (owner_specified.openstack.*) are verified on upload', async () => {
    const data = randomBytes(1000)
    const good = await create({ 'owner_specified.openstack.md5': md5(data), 'owner_specified.openstack.sha256': sha256(data) })
    assert.equal((await upload(good.id, data)).status, 204)
    const bad = await create({ 'owner_specified.openstack.md5': md5(Buffer.from('other')) })
    const r = await upload(bad.id, data)
    assert.equal(r.status, 400)
    assert.match(r.body.message, /MD5 .* does not match/)
    assert.equal((await h.json('GET', `/v2/images/${bad.id}`)).body.status, 'queued')
  })

  test('only the owner (or admin) uploads; deactivated data is for the admin only', async () => {
    const owner = await h.projectUser()
    const other = await h.projectUser()
    const img = await create({ visibility: 'public' })
    const mine = await create({}, owner.token)
    assert.equal((await upload(mine.id, Buffer.from('x'), { token: other.token })).status, 404)
    assert.equal((await upload(img.id, Buffer.from('x'), { token: other.token })).status, 403)
    assert.equal((await upload(img.id, Buffer.from('public bytes'))).status, 204)
    assert.equal((await h.call('GET', `/v2/images/${img.id}/file`, { token: other.token })).body, 'public bytes')
    assert.equal((await h.call('POST', `/v2/images/${img.id}/actions/deactivate`)).statusCode, 204)
    assert.equal((await h.call('POST', `/v2/images/${img.id}/actions/deactivate`)).statusCode, 204)
    assert.equal((await h.json('GET', `/v2/images/${img.id}`)).body.status, 'deactivated')
    const denied = await h.json('GET', `/v2/images/${img.id}/file`, { token: other.token })
    assert.equal(denied.status, 403)
    assert.match(denied.body.message, /deactivated/)
    assert.equal((await h.call('GET', `/v2/images/${img.id}/file`)).statusCode, 200)
    assert.equal((await h.call('POST', `/v2/images/${img.id}/actions/reactivate`, { token: other.token })).statusCode, 403)
    assert.equal((await h.call('POST', `/v2/images/${img.id}/actions/reactivate`)).statusCode, 204)
    assert.equal((await h.call('GET', `/v2/images/${img.id}/file`, { token: other.token })).statusCode, 200)
  })

  test('deleting an image removes its data', async () => {
    const img = await create()
    assert.equal((await upload(img.id, Buffer.from('to be deleted'))).status, 204)
    assert.ok(dataFiles().includes(img.id))
    assert.equal((await h.call('DELETE', `/v2/images/${img.id}`)).statusCode, 204)
    assert.ok(!dataFiles().includes(img.id))
  })

  test('glance-direct: stage (uploading), import (202), task, active', async () => {
    const info = await h.json('GET', '/v2/info/import')
    assert.deepEqual(info.body['import-methods'].value, ['glance-direct', 'web-download'])
    const img = await create()
    const data = randomBytes(5000)
    assert.equal((await h.call('PUT', `/v2/images/${img.id}/stage`, { payload: data })).statusCode, 204)
    const staged = (await h.json('GET', `/v2/images/${img.id}`)).body
    assert.equal(staged.status, 'uploading')
    assert.equal(staged.size, data.length)
    assert.equal(staged.os_glance_staged_at, undefined, 'bookkeeping stays hidden')
    assert.equal((await h.call('PUT', `/v2/images/${img.id}/stage`, { payload: data })).statusCode, 409)
    const bad = await h.json('POST', `/v2/images/${img.id}/import`, { body: { method: { name: 'teleport' } } })
    assert.equal(bad.status, 400)
    assert.match(bad.body.message, /Unknown import method name 'teleport'/)
    const imp = await h.call('POST', `/v2/images/${img.id}/import`, { body: { method: { name: 'glance-direct' } } })
    assert.equal(imp.statusCode, 202)
    const requestId = imp.headers['x-openstack-request-id']
    await Promise.allSettled([...h.image.ctx.jobs])
    const done = (await h.json('GET', `/v2/images/${img.id}`)).body
    assert.equal(done.status, 'active')
    assert.equal(done.checksum, md5(data))
    assert.equal(done.os_glance_importing_to_stores, undefined)
    assert.deepEqual((await h.call('GET', `/v2/images/${img.id}/file`)).rawPayload, data)
    const tasks = (await h.json('GET', `/v2/images/${img.id}/tasks`)).body.tasks
    assert.equal(tasks.length, 1)
    assert.equal(tasks[0].status, 'success')
    assert.equal(tasks[0].request_id, requestId)
    assert.equal(tasks[0].input.import_req.method.name, 'glance-direct')
    assert.equal((await h.json('GET', `/v2/tasks/${tasks[0].id}`)).body.id, tasks[0].id)
    assert.equal(readdirSync(join(h.dataDir, 'images', '.staging')).length, 0)
    const active = await h.json('POST', `/v2/images/${img.id}/import`, { body: { method: { name: 'glance-direct' } } })
    assert.equal(active.status, 409)
  })

  test('import refuses what Glance refuses', async () => {
    const img = await create()
    const notStaged = await h.json('POST', `/v2/images/${img.id}/import`, { body: { method: { name: 'glance-direct' } } })
    assert.equal(notStaged.status, 409)
    assert.match(notStaged.body.message, /needs to be staged/)
    const filtered = await h.json('POST', `/v2/images/${img.id}/import`, { body: { method: { name: 'web-download', uri: 'file:///etc/passwd' } } })
    assert.equal(filtered.status, 400)
    assert.match(filtered.body.message, /does not pass filtering/)
    const port = await h.json('POST', `/v2/images/${img.id}/import`, { body: { method: { name: 'web-download', uri: 'http://127.0.0.1:22/x' } } })
    assert.equal(port.status, 400)
    for (const body of [{}, { method: {} }, { method: { name: 'glance-direct' }, all_stores: 'yes' },
      { method: { name: 'glance-direct' }, all_stores_must_succeed: false }]) {
      assert.equal((await h.json('POST', `/v2/images/${img.id}/import`, { body })).status, 400, JSON.stringify(body))
    }
    assert.equal((await h.json('GET', `/v2/images/${img.id}`)).body.status, 'queued')
    assert.equal((await h.json('POST', `/v2/images/${randomUUID()}/import`, { body: { method: { name: 'glance-direct' } } })).status, 404)
  })

  test('a failed web-download returns the image to queued and records the failure', async () => {
    const img = await create()
    // The URL passes the filter, but .invalid names never resolve (RFC 6761), so the fetch fails.
    const r = await h.call('POST', `/v2/images/${img.id}/import`, { body: { method: { name: 'web-download', uri: 'http://image.invalid/nothing' } } })
    assert.equal(r.statusCode, 202)
    await Promise.allSettled([...h.image.ctx.jobs])
    const back = (await h.json('GET', `/v2/images/${img.id}`)).body
    assert.equal(back.status, 'queued')
    assert.equal(back.os_glance_failed_import, 'file')
    const tasks = (await h.json('GET', `/v2/images/${img.id}/tasks`)).body.tasks
    assert.equal(tasks[0].status, 'failure')
    assert.ok(tasks[0].message.length > 0)
  })
})

describe('web-download from a local HTTP server', () => {
  let h: ImageHarness
  let server: import('node:http').Server
  let base = ''
  const data = randomBytes(30_000)
  before(async () => {
    const { createServer } = await import('node:http')
    server = createServer((req, res) => {
      if (req.url === '/image') { res.writeHead(200, { 'content-type': 'application/octet-stream' }); res.end(data); return }
      if (req.url === '/hop') { res.writeHead(302, { location: '/image' }); res.end(); return }
      if (req.url === '/away') { res.writeHead(302, { location: 'ftp://elsewhere/x' }); res.end(); return }
      res.writeHead(404); res.end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`
    // Any port may be fetched in this test (Glance's default allows 80 and 443 only).
    h = await imageHarness({ config: { importFilter: { allowedSchemes: ['http'], allowedPorts: [], allowedHosts: [], disallowedHosts: [] } } })
  })
  after(async () => { await h.close(); server.close() })

  const importFrom = async (path: string) => {
    const img = (await h.json('POST', '/v2/images', { body: { disk_format: 'raw', container_format: 'bare' } })).body
    const r = await h.call('POST', `/v2/images/${img.id}/import`, { body: { method: { name: 'web-download', uri: `${base}${path}` } } })
    assert.equal(r.statusCode, 202, r.body)
    await Promise.allSettled([...h.image.ctx.jobs])
    return (await h.json('GET', `/v2/images/${img.id}`)).body
  }

  test('fetches the data, following redirects that pass the filter', async () => {
    for (const path of ['/image', '/hop']) {
      const img = await importFrom(path)
      assert.equal(img.status, 'active', path)
      assert.equal(img.checksum, md5(data))
      assert.deepEqual((await h.call('GET', `/v2/images/${img.id}/file`)).rawPayload, data)
    }
  })

  test('a redirect to a URL the filter refuses fails the import', async () => {
    const img = await importFrom('/away')
    assert.equal(img.status, 'queued')
    const tasks = (await h.json('GET', `/v2/images/${img.id}/tasks`)).body.tasks
    assert.match(tasks[0].message, /does not pass the import filter/)
  })
})

describe('a restart in the middle of an upload or an import', () => {
  test('leaves the images queued (or staged) and the tasks failed', async () => {
    const { recoverInterrupted } = await import('../recovery.ts')
    const h = await imageHarness()
    try {
      const mk = async () => (await h.json('POST', '/v2/images', { body: { disk_format: 'raw', container_format: 'bare' } })).body.id as string
      const saving = await mk()
      const importing = await mk()
      const db = h.image.ctx.db
      await db.updateTable('images').set({ status: 'saving' }).where('id', '=', saving).execute()
      await db.updateTable('images').set({ status: 'importing' }).where('id', '=', importing).execute()
      const now = new Date().toISOString()
      await db.insertInto('tasks').values({ id: randomUUID(), type: 'api_image_import', status: 'processing', owner: null,
        image_id: importing, user_id: null, request_id: null, input: '{}', result: null, message: '', expires_at: null,
        created_at: now, updated_at: now }).execute()
      assert.equal(await recoverInterrupted(h.image.ctx), 2)
      assert.equal((await h.json('GET', `/v2/images/${saving}`)).body.status, 'queued')
      assert.equal((await h.json('GET', `/v2/images/${importing}`)).body.status, 'queued')
      assert.equal((await h.json('GET', `/v2/images/${importing}/tasks`)).body.tasks[0].status, 'failure')
      assert.equal((await h.call('PUT', `/v2/images/${saving}/file`, { payload: Buffer.from('again') })).statusCode, 204)
    } finally { await h.close() }
  })
})
