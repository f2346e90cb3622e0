// End to end: `cumulo up` in a child process, its Swift API driven by the real clients from
// Debian — `swift` (python3-swiftclient, Keystone v3 and v1 auth) and `openstack container/
// object` (python3-openstackclient) — as a user would.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type CloudProcess, have, run, startCloudProcess } from '../support/cloud-process.ts'

const CI = process.env.CI === 'true'
const hasSwift = await have('swift')
const hasOsc = await have('openstack')
if (CI && (!hasSwift || !hasOsc)) throw new Error('swift (python3-swiftclient) and openstack (python3-openstackclient) are required in CI')

const OFFSET = 12000
const PASSWORD = 'e2e-swift-admin-pw'
const proxyUrl = `http://127.0.0.1:${8080 + OFFSET}`

describe('object storage with the swift and openstack CLIs', { skip: (!hasSwift || !hasOsc) && 'swift or openstack CLI not installed (apt-get install python3-swiftclient python3-openstackclient)' }, () => {
  let cloud: CloudProcess
  let dir: string
  let swiftEnv: NodeJS.ProcessEnv
  const swift = (...args: string[]) => run('swift', args, swiftEnv)
  const osc = (...args: string[]) => run('openstack', args, cloud.env)
  const ok = async (p: Promise<{ code: number; stdout: string; stderr: string }>, what: string) => {
    const r = await p
    assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}${r.stdout}`)
    return r.stdout
  }

  before(async () => {
    cloud = await startCloudProcess({ portOffset: OFFSET, adminPassword: PASSWORD })
    dir = mkdtempSync(join(tmpdir(), 'cumulo-swift-e2e-'))
    const env = { ...process.env }
    for (const k of Object.keys(env)) if (k.startsWith('OS_') || k.startsWith('ST_')) delete env[k]
    swiftEnv = { ...env, OS_AUTH_URL: cloud.identityUrl, OS_USERNAME: 'admin', OS_PASSWORD: PASSWORD, OS_PROJECT_NAME: 'admin',
      OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_AUTH_VERSION: '3', OS_IDENTITY_API_VERSION: '3' }
  })
  after(async () => {
    await cloud?.destroy()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  test('cumulo up prints the object-store endpoint and the catalog has it', async () => {
    assert.match(cloud.output(), new RegExp(`object-store\\s+http://127\\.0\\.0\\.1:${8080 + OFFSET}/v1/AUTH_\\$\\(project_id\\)s`))
    const cat = JSON.parse(await ok(osc('catalog', 'list', '-f', 'json'), 'catalog list'))
    const entry = cat.find((s: any) => s.Type === 'object-store')
    assert.ok(entry, JSON.stringify(cat))
    assert.equal(entry.Name, 'swift')
    assert.match(JSON.stringify(entry.Endpoints), new RegExp(`${proxyUrl}/v1/AUTH_[0-9a-f]{32}`))
  })

  test('swift: post, upload, list, stat, metadata, download, delete', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123)
    const src = join(dir, 'data.bin')
    writeFileSync(src, data)
    await ok(swift('post', 'c1'), 'swift post c1')
    await ok(swift('upload', 'c1', src, '--object-name', 'data.bin'), 'swift upload')
    assert.match(await ok(swift('list'), 'swift list'), /^c1$/m)
    assert.equal(await ok(swift('list', 'c1'), 'swift list c1'), 'data.bin\n')
    const stat = await ok(swift('stat', 'c1', 'data.bin'), 'swift stat')
    assert.match(stat, new RegExp(`Content Length: ${data.length}`))
    assert.match(stat, new RegExp(`ETag: ${createHash('md5').update(data).digest('hex')}`))
    await ok(swift('post', '-m', 'color:blue', 'c1', 'data.bin'), 'swift post -m')
    assert.match(await ok(swift('stat', 'c1', 'data.bin'), 'swift stat'), /Meta Color: blue/)
    const out = join(dir, 'downloaded.bin')
    await ok(swift('download', 'c1', 'data.bin', '-o', out), 'swift download')
    assert.ok(readFileSync(out).equals(data), 'downloaded bytes differ')
    const cstat = await ok(swift('stat', 'c1'), 'swift stat c1')
    assert.match(cstat, /Objects: 1/)
    await ok(swift('delete', 'c1', 'data.bin'), 'swift delete object')
    assert.equal(await ok(swift('list', 'c1'), 'swift list c1'), '')
    await ok(swift('delete', 'c1'), 'swift delete container')
    assert.doesNotMatch(await ok(swift('list'), 'swift list'), /^c1$/m)
  })

  test('swift: a large file uploaded as SLO segments (and as DLO), downloaded whole, deleted with its segments', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 4321)
    const src = join(dir, 'big.bin')
    writeFileSync(src, data)
    const md5 = createHash('md5').update(data).digest('hex')
    for (const [mode, flags] of [['slo', ['--use-slo']], ['dlo', []]] as const) {
      const c = `big-${mode}`
      await ok(swift('upload', c, src, '--object-name', 'big.bin', '--segment-size', '1048576', ...flags), `swift upload (${mode})`)
      // The segments sit in <c>_segments; the manifest lists as one object of the whole size.
      assert.equal((await ok(swift('list', `${c}_segments`), 'list segments')).trim().split('\n').length, 6)
      const listing = JSON.parse((await run('swift', ['list', c, '--json'], swiftEnv)).stdout || '[]')
      if (mode === 'slo') assert.equal(listing[0]?.bytes, data.length, JSON.stringify(listing))
      const stat = await ok(swift('stat', c, 'big.bin'), 'swift stat manifest')
      assert.match(stat, new RegExp(`Content Length: ${data.length}`))
      assert.match(stat, mode === 'slo' ? /Static-Large-Object: True/i : /Manifest: big-dlo_segments\//)
      const out = join(dir, `big-${mode}.out`)
      await ok(swift('download', c, 'big.bin', '-o', out), `swift download (${mode})`)
      assert.equal(createHash('md5').update(readFileSync(out)).digest('hex'), md5, `${mode} download differs`)
      await ok(swift('delete', c, 'big.bin'), `swift delete (${mode})`)
      assert.equal(await ok(swift('list', `${c}_segments`), 'list segments after delete'), '')
    }
  })

  test('swift with v1 auth (/auth/v1.0, -U project:user -K password)', async () => {
    const env = { ...swiftEnv }
    for (const k of Object.keys(env)) if (k.startsWith('OS_')) delete env[k]
    const good = await run('swift', ['-A', `${proxyUrl}/auth/v1.0`, '-U', 'admin:admin', '-K', PASSWORD, 'stat'], env)
    assert.equal(good.code, 0, good.stderr)
    assert.match(good.stdout, /Account: AUTH_[0-9a-f]{32}/)
    const bad = await run('swift', ['-A', `${proxyUrl}/auth/v1.0`, '-U', 'admin:admin', '-K', 'wrong', 'stat'], env)
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /401/)
  })

  test('openstack container and object commands', async () => {
    const created = JSON.parse(await ok(osc('container', 'create', 'c2', '-f', 'json'), 'container create'))
    assert.equal(created[0].container, 'c2')
    const list = JSON.parse(await ok(osc('container', 'list', '-f', 'json'), 'container list'))
    assert.ok(list.some((c: any) => c.Name === 'c2'), JSON.stringify(list))
    const data = randomBytes(200_000)
    const src = join(dir, 'osc.bin')
    writeFileSync(src, data)
    const obj = JSON.parse(await ok(osc('object', 'create', 'c2', src, '--name', 'thing.bin', '-f', 'json'), 'object create'))
    assert.equal(obj[0].object, 'thing.bin')
    assert.equal(obj[0].etag, createHash('md5').update(data).digest('hex'))
    const objects = JSON.parse(await ok(osc('object', 'list', 'c2', '-f', 'json'), 'object list'))
    assert.deepEqual(objects.map((o: any) => o.Name), ['thing.bin'])
    const shown = JSON.parse(await ok(osc('object', 'show', 'c2', 'thing.bin', '-f', 'json'), 'object show'))
    assert.equal(String(shown['content-length']), String(data.length))
    const cshown = JSON.parse(await ok(osc('container', 'show', 'c2', '-f', 'json'), 'container show'))
    assert.equal(cshown.container, 'c2')
    assert.equal(String(cshown.object_count), '1')
    const out = join(dir, 'osc-saved.bin')
    await ok(osc('object', 'save', 'c2', 'thing.bin', '--file', out), 'object save')
    assert.ok(readFileSync(out).equals(data), 'saved bytes differ')
    const nonEmpty = await osc('container', 'delete', 'c2')
    assert.notEqual(nonEmpty.code, 0, 'a container with objects cannot be deleted')
    await ok(osc('object', 'delete', 'c2', 'thing.bin'), 'object delete')
    await ok(osc('container', 'delete', 'c2'), 'container delete')
    const after = JSON.parse(await ok(osc('container', 'list', '-f', 'json'), 'container list'))
    assert.ok(!after.some((c: any) => c.Name === 'c2'))
  })
})
