// End to end: `cumulo up` in a child process and its S3 API (on the Swift proxy's port) driven
// by the real `s3cmd` (Debian's s3cmd, SigV4, path-style requests) with Keystone EC2
// credentials: buckets, objects, listings, metadata, ACLs, sync of a directory tree and a
// multipart upload, checked byte for byte (and against what Swift sees).
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type CloudProcess, type CmdResult, have, run, startCloudProcess } from '../support/cloud-process.ts'

const CI = process.env.CI === 'true'
const hasS3cmd = await have('s3cmd')
const hasOsc = await have('openstack')
const hasSwift = await have('swift')
if (CI && (!hasS3cmd || !hasOsc || !hasSwift)) throw new Error('s3cmd, openstack and swift CLIs are required in CI')

const OFFSET = 14000
const PASSWORD = 'e2e-s3cmd-admin-pw'
const hostPort = `127.0.0.1:${8080 + OFFSET}`
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex')

describe('S3 with s3cmd', { skip: (!hasS3cmd || !hasOsc || !hasSwift) && 's3cmd, openstack or swift CLI not installed (apt-get install s3cmd)' }, () => {
  let cloud: CloudProcess
  let dir: string
  let cfg: string
  let env: NodeJS.ProcessEnv
  let swiftEnv: NodeJS.ProcessEnv
  const s3cmd = (...args: string[]) => run('s3cmd', ['-c', cfg, '--no-progress', ...args], env)
  const ok = async (p: Promise<CmdResult>, what: string) => {
    const r = await p
    assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}${r.stdout}`)
    return r.stdout
  }
  const file = (name: string, data: Buffer) => { const p = join(dir, name); writeFileSync(p, data); return p }

  before(async () => {
    cloud = await startCloudProcess({ portOffset: OFFSET, adminPassword: PASSWORD })
    dir = mkdtempSync(join(tmpdir(), 'cumulo-s3cmd-e2e-'))
    env = { ...process.env, HOME: dir }
    for (const k of Object.keys(env)) if (k.startsWith('OS_') || k.startsWith('ST_') || k.startsWith('AWS_') || k.startsWith('S3_')) delete env[k]
    swiftEnv = { ...env, OS_AUTH_URL: cloud.identityUrl, OS_USERNAME: 'admin', OS_PASSWORD: PASSWORD, OS_PROJECT_NAME: 'admin',
      OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_AUTH_VERSION: '3', OS_IDENTITY_API_VERSION: '3' }
    const cred = JSON.parse(await ok(run('openstack', ['ec2', 'credentials', 'create', '-f', 'json'], cloud.env), 'ec2 credentials create'))
    cfg = join(dir, '.s3cfg')
    // host_bucket without %(bucket)s: path-style URLs, as a local endpoint needs.
    writeFileSync(cfg, [
      '[default]',
      `access_key = ${cred.access}`,
      `secret_key = ${cred.secret}`,
      `host_base = ${hostPort}`,
      `host_bucket = ${hostPort}`,
      'bucket_location = us-east-1',
      'use_https = False',
      'signature_v2 = False',
      'check_ssl_certificate = False',
      'guess_mime_type = True',
      '',
    ].join('\n'))
  })
  after(async () => {
    await cloud?.destroy()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  test('mb, put, ls, get (byte-identical), info, del, rb', async () => {
    assert.match(await ok(s3cmd('mb', 's3://cmd-bkt'), 's3cmd mb'), /Bucket 's3:\/\/cmd-bkt\/' created/)
    assert.match(await ok(s3cmd('ls'), 's3cmd ls'), /s3:\/\/cmd-bkt\b/)
    const data = randomBytes(300_000)
    await ok(s3cmd('put', file('a.bin', data), 's3://cmd-bkt/dir/a.bin', '--add-header=x-amz-meta-color:blue'), 's3cmd put')
    const text = Buffer.from('hello from s3cmd\n')
    await ok(s3cmd('put', file('note.txt', text), 's3://cmd-bkt/note.txt'), 's3cmd put text')
    const ls = await ok(s3cmd('ls', 's3://cmd-bkt/dir/'), 's3cmd ls prefix')
    assert.match(ls, /\s300000\s+s3:\/\/cmd-bkt\/dir\/a\.bin/)
    const top = await ok(s3cmd('ls', 's3://cmd-bkt'), 's3cmd ls bucket')
    assert.match(top, /DIR\s+s3:\/\/cmd-bkt\/dir\//)
    assert.match(top, /s3:\/\/cmd-bkt\/note\.txt/)
    const recursive = await ok(s3cmd('ls', '--recursive', 's3://cmd-bkt'), 's3cmd ls -r')
    assert.equal(recursive.trim().split('\n').length, 2, recursive)

    const out = join(dir, 'a.out')
    await ok(s3cmd('get', 's3://cmd-bkt/dir/a.bin', out), 's3cmd get')
    assert.ok(readFileSync(out).equals(data), 'downloaded bytes differ')
    await ok(s3cmd('get', '--force', 's3://cmd-bkt/note.txt', join(dir, 'note.out')), 's3cmd get text')
    assert.ok(readFileSync(join(dir, 'note.out')).equals(text))

    const info = await ok(s3cmd('info', 's3://cmd-bkt/dir/a.bin'), 's3cmd info')
    assert.match(info, /File size:\s+300000/)
    assert.match(info, new RegExp(`MD5 sum:\\s+${md5(data)}`))
    assert.match(info, /x-amz-meta-color:\s*blue/i)
    const ninfo = await ok(s3cmd('info', 's3://cmd-bkt/note.txt'), 's3cmd info text')
    assert.match(ninfo, /MIME type:\s+text\/plain/)
    const binfo = await ok(s3cmd('info', 's3://cmd-bkt'), 's3cmd info bucket')
    assert.match(binfo, /s3:\/\/cmd-bkt\/ \(bucket\)/)

    // A non-empty bucket cannot be removed.
    const busy = await s3cmd('rb', 's3://cmd-bkt')
    assert.notEqual(busy.code, 0)
    assert.match(busy.stderr + busy.stdout, /BucketNotEmpty/)
    await ok(s3cmd('del', 's3://cmd-bkt/dir/a.bin'), 's3cmd del')
    await ok(s3cmd('del', 's3://cmd-bkt/note.txt'), 's3cmd del text')
    assert.equal((await ok(s3cmd('ls', '--recursive', 's3://cmd-bkt'), 's3cmd ls empty')).trim(), '')
    const missing = await s3cmd('get', '--force', 's3://cmd-bkt/dir/a.bin', join(dir, 'gone.out'))
    assert.notEqual(missing.code, 0)
    assert.match(missing.stderr, /404|NoSuchKey|does not exist/i)
    await ok(s3cmd('rb', 's3://cmd-bkt'), 's3cmd rb')
    assert.doesNotMatch(await ok(s3cmd('ls'), 's3cmd ls'), /cmd-bkt/)
  })

  test('setacl --acl-public: anonymous GET works, --acl-private takes it back', async () => {
    await ok(s3cmd('mb', 's3://cmd-acl'), 's3cmd mb')
    const data = randomBytes(4096)
    await ok(s3cmd('put', file('pub.bin', data), 's3://cmd-acl/pub.bin'), 's3cmd put')
    const url = `http://${hostPort}/cmd-acl/pub.bin`
    assert.equal((await fetch(url)).status, 403, 'private by default')
    assert.match(await ok(s3cmd('setacl', '--acl-public', 's3://cmd-acl/pub.bin'), 's3cmd setacl public'), /ACL set to Public/)
    const anon = await fetch(url)
    assert.equal(anon.status, 200)
    assert.ok(Buffer.from(await anon.arrayBuffer()).equals(data))
    assert.match(await ok(s3cmd('info', 's3://cmd-acl/pub.bin'), 's3cmd info'), /ACL:\s+\*anon\*: READ/)
    await ok(s3cmd('setacl', '--acl-private', 's3://cmd-acl/pub.bin'), 's3cmd setacl private')
    assert.equal((await fetch(url)).status, 403)
    // A public put in one step.
    await ok(s3cmd('put', '--acl-public', file('pub2.bin', data), 's3://cmd-acl/pub2.bin'), 's3cmd put -P')
    assert.equal((await fetch(`http://${hostPort}/cmd-acl/pub2.bin`)).status, 200)
    await ok(s3cmd('rb', '--recursive', '--force', 's3://cmd-acl'), 's3cmd rb -r')
  })

  test('sync a directory tree up, change it, sync again (--delete-removed), sync down: identical trees', async () => {
    const src = join(dir, 'tree')
    const files: Record<string, Buffer> = {
      'top.txt': Buffer.from('top\n'),
      'a/one.bin': randomBytes(10_000),
      'a/b/two.bin': randomBytes(70_000),
      'a/b/c/three.bin': randomBytes(1),
      'empty.dat': Buffer.alloc(0),
    }
    for (const [rel, data] of Object.entries(files)) { mkdirSync(join(src, rel, '..'), { recursive: true }); writeFileSync(join(src, rel), data) }
    await ok(s3cmd('mb', 's3://cmd-sync'), 's3cmd mb')
    const up = await ok(s3cmd('sync', `${src}/`, 's3://cmd-sync/tree/'), 's3cmd sync up')
    assert.match(up, /upload/)
    const listed = (await ok(s3cmd('ls', '--recursive', 's3://cmd-sync'), 's3cmd ls -r')).trim().split('\n').map((l) => l.replace(/^.*s3:\/\/cmd-sync\//, ''))
    assert.deepEqual(listed.sort(), Object.keys(files).map((f) => `tree/${f}`).sort())
    // Nothing changed: a second sync uploads nothing (size and md5 match).
    const again = await ok(s3cmd('sync', `${src}/`, 's3://cmd-sync/tree/'), 's3cmd sync again')
    assert.doesNotMatch(again, /upload:/)
    // Change one file, add one, remove one.
    files['a/one.bin'] = randomBytes(10_001)
    writeFileSync(join(src, 'a/one.bin'), files['a/one.bin'])
    files['new.txt'] = Buffer.from('new\n')
    writeFileSync(join(src, 'new.txt'), files['new.txt'])
    rmSync(join(src, 'top.txt'))
    delete files['top.txt']
    const third = await ok(s3cmd('sync', '--delete-removed', `${src}/`, 's3://cmd-sync/tree/'), 's3cmd sync --delete-removed')
    assert.match(third, /one\.bin/)
    assert.match(third, /new\.txt/)
    assert.match(third, /delete: 's3:\/\/cmd-sync\/tree\/top\.txt'/)
    const down = join(dir, 'tree-down')
    await ok(s3cmd('sync', 's3://cmd-sync/tree/', `${down}/`), 's3cmd sync down')
    const walk = (d: string, pre = ''): string[] => readdirSync(d, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(join(d, e.name), `${pre}${e.name}/`) : [`${pre}${e.name}`]))
    assert.deepEqual(walk(down).sort(), Object.keys(files).sort())
    for (const [rel, data] of Object.entries(files)) assert.ok(readFileSync(join(down, rel)).equals(data), rel)
    // Swift sees the same objects in the container.
    const swiftList = await ok(run('swift', ['list', 'cmd-sync'], swiftEnv), 'swift list')
    assert.deepEqual(swiftList.trim().split('\n').sort(), Object.keys(files).map((f) => `tree/${f}`).sort())
    await ok(s3cmd('rb', '--recursive', '--force', 's3://cmd-sync'), 's3cmd rb -r')
  })

  test('multipart put of a 20 MB file (5 MB parts), get back byte-identical', async () => {
    await ok(s3cmd('mb', 's3://cmd-big'), 's3cmd mb')
    const big = randomBytes(20 * 1024 * 1024 + 12345)
    await ok(s3cmd('put', '--multipart-chunk-size-mb=5', file('big.bin', big), 's3://cmd-big/big.bin'), 's3cmd multipart put')
    const info = await ok(s3cmd('info', 's3://cmd-big/big.bin'), 's3cmd info')
    assert.match(info, new RegExp(`File size:\\s+${big.length}`))
    // s3cmd shows the whole file's md5 (kept in its x-amz-meta-s3cmd-attrs); the response
    // headers (in its debug log) carry S3's multipart ETag: the md5 of the 5 parts' md5s, "-5".
    assert.match(info, new RegExp(`MD5 sum:\\s+${md5(big)}`))
    const parts = [0, 1, 2, 3, 4].map((i) => createHash('md5').update(big.subarray(i * 5 * 1024 * 1024, (i + 1) * 5 * 1024 * 1024)).digest())
    const debug = await s3cmd('--debug', 'info', 's3://cmd-big/big.bin')
    assert.match(debug.stderr, new RegExp(`'etag': '"${md5(Buffer.concat(parts))}-5"'`))
    const dl = join(dir, 'big.out')
    await ok(s3cmd('get', '--force', 's3://cmd-big/big.bin', dl), 's3cmd get big')
    assert.equal(md5(readFileSync(dl)), md5(big))
    // No upload left behind.
    assert.doesNotMatch(await ok(s3cmd('multipart', 's3://cmd-big'), 's3cmd multipart list'), /big\.bin/)
    await ok(s3cmd('rb', '--recursive', '--force', 's3://cmd-big'), 's3cmd rb -r')
    assert.doesNotMatch(await ok(run('swift', ['list'], swiftEnv), 'swift list'), /cmd-big/)
  })
})
