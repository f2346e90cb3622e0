// End to end: `cumulo up` in a child process, its S3 API (on the Swift proxy's port) driven by
// the real `aws` CLI with Keystone EC2 credentials (`openstack ec2 credentials create`), and the
// same data seen through `swift`: S3 buckets are Swift containers.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type CloudProcess, have, run, startCloudProcess } from '../support/cloud-process.ts'

const CI = process.env.CI === 'true'
const hasAws = await have('aws')
const hasSwift = await have('swift')
const hasOsc = await have('openstack')
const hasCurl = await have('curl')
if (CI && (!hasAws || !hasSwift || !hasOsc || !hasCurl)) throw new Error('aws, swift, openstack and curl are required in CI')

const OFFSET = 13000
const PASSWORD = 'e2e-s3-admin-pw'
const endpoint = `http://127.0.0.1:${8080 + OFFSET}`
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex')

describe('S3 with the aws CLI', { skip: (!hasAws || !hasSwift || !hasOsc || !hasCurl) && 'aws, swift, openstack CLI or curl not installed' }, () => {
  let cloud: CloudProcess
  let dir: string
  let awsEnv: NodeJS.ProcessEnv
  let swiftEnv: NodeJS.ProcessEnv
  const aws = (...args: string[]) => run('aws', ['--endpoint-url', endpoint, ...args], awsEnv)
  const ok = async (p: Promise<{ code: number; stdout: string; stderr: string }>, what: string) => {
    const r = await p
    assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}${r.stdout}`)
    return r.stdout
  }

  before(async () => {
    cloud = await startCloudProcess({ portOffset: OFFSET, adminPassword: PASSWORD })
    dir = mkdtempSync(join(tmpdir(), 'cumulo-s3-e2e-'))
    const env = { ...process.env }
    for (const k of Object.keys(env)) if (k.startsWith('OS_') || k.startsWith('ST_') || k.startsWith('AWS_')) delete env[k]
    swiftEnv = { ...env, OS_AUTH_URL: cloud.identityUrl, OS_USERNAME: 'admin', OS_PASSWORD: PASSWORD, OS_PROJECT_NAME: 'admin',
      OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_AUTH_VERSION: '3', OS_IDENTITY_API_VERSION: '3' }
    const cred = JSON.parse(await ok(run('openstack', ['ec2', 'credentials', 'create', '-f', 'json'], cloud.env), 'ec2 credentials create'))
    writeFileSync(join(dir, 'credentials'), `[default]\naws_access_key_id = ${cred.access}\naws_secret_access_key = ${cred.secret}\n`)
    // signature_version: aws-cli v1 presigns with SigV2 unless told (v2 uses SigV4); only SigV4 is served.
    writeFileSync(join(dir, 'config'), '[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n  signature_version = s3v4\n')
    awsEnv = { ...env, AWS_CONFIG_FILE: join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'), AWS_PAGER: '' }
  })
  after(async () => {
    await cloud?.destroy()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  test('cumulo up prints the s3 endpoint and the catalog has it', async () => {
    assert.match(cloud.output(), new RegExp(`s3\\s+${endpoint}`))
    const cat = JSON.parse(await ok(run('openstack', ['catalog', 'list', '-f', 'json'], cloud.env), 'catalog list'))
    const entry = cat.find((s: { Type: string }) => s.Type === 's3')
    assert.ok(entry, JSON.stringify(cat))
    assert.match(JSON.stringify(entry.Endpoints), new RegExp(endpoint))
  })

  test('mb, cp, ls, head-object, cp back, multipart, seen by swift, rb --force', async () => {
    await ok(aws('s3', 'mb', 's3://bkt1'), 'aws s3 mb')
    const small = randomBytes(1234)
    writeFileSync(join(dir, 'small.bin'), small)
    await ok(aws('s3', 'cp', join(dir, 'small.bin'), 's3://bkt1/dir/small.bin'), 'aws s3 cp up')
    assert.match(await ok(aws('s3', 'ls', 's3://bkt1/dir/'), 'aws s3 ls'), /\s1234 small\.bin/)
    const head = JSON.parse(await ok(aws('s3api', 'head-object', '--bucket', 'bkt1', '--key', 'dir/small.bin'), 'head-object'))
    assert.equal(head.ContentLength, 1234)
    assert.equal(head.ETag, `"${md5(small)}"`)
    await ok(aws('s3', 'cp', 's3://bkt1/dir/small.bin', join(dir, 'small.out')), 'aws s3 cp down')
    assert.ok(readFileSync(join(dir, 'small.out')).equals(small))

    const big = randomBytes(20 * 1024 * 1024)
    writeFileSync(join(dir, 'big.bin'), big)
    await ok(aws('s3', 'cp', join(dir, 'big.bin'), 's3://bkt1/big.bin'), 'aws s3 cp multipart')
    const bigHead = JSON.parse(await ok(aws('s3api', 'head-object', '--bucket', 'bkt1', '--key', 'big.bin'), 'head-object big'))
    assert.equal(bigHead.ContentLength, big.length)
    assert.match(bigHead.ETag, /-4"$/)
    await ok(aws('s3', 'cp', 's3://bkt1/big.bin', join(dir, 'big.out')), 'aws s3 cp multipart down')
    assert.equal(md5(readFileSync(join(dir, 'big.out'))), md5(big))

    // Swift sees the bucket as a container with the same objects.
    assert.match(await ok(run('swift', ['list'], swiftEnv), 'swift list'), /^bkt1$/m)
    assert.equal(await ok(run('swift', ['list', 'bkt1'], swiftEnv), 'swift list bkt1'), 'big.bin\ndir/small.bin\n')

    await ok(aws('s3', 'rb', 's3://bkt1', '--force'), 'aws s3 rb --force')
    assert.doesNotMatch(await ok(run('swift', ['list'], swiftEnv), 'swift list'), /^bkt1$/m)
    assert.doesNotMatch(await ok(aws('s3', 'ls'), 'aws s3 ls'), /\bbkt1\b/)
  })

  test('cp of a 100 MB file goes multipart (5 MB parts) and comes back byte-identical', async () => {
    await ok(aws('s3', 'mb', 's3://bkt-big'), 'aws s3 mb')
    const big = randomBytes(100 * 1024 * 1024)
    writeFileSync(join(dir, 'big100.bin'), big)
    await ok(aws('s3', 'cp', join(dir, 'big100.bin'), 's3://bkt-big/big100.bin'), 'aws s3 cp 100 MB')
    const head = JSON.parse(await ok(aws('s3api', 'head-object', '--bucket', 'bkt-big', '--key', 'big100.bin'), 'head-object'))
    assert.equal(head.ContentLength, big.length)
    assert.match(head.ETag, /-20"$/)
    assert.match(await ok(aws('s3', 'ls', 's3://bkt-big/'), 'aws s3 ls'), /\s104857600 big100\.bin/)
    await ok(aws('s3', 'cp', 's3://bkt-big/big100.bin', join(dir, 'big100.out')), 'aws s3 cp 100 MB down')
    assert.equal(md5(readFileSync(join(dir, 'big100.out'))), md5(big))
    rmSync(join(dir, 'big100.bin'))
    rmSync(join(dir, 'big100.out'))
    await ok(aws('s3', 'rm', 's3://bkt-big/big100.bin'), 'aws s3 rm')
    // An empty bucket goes with a plain rb.
    await ok(aws('s3', 'rb', 's3://bkt-big'), 'aws s3 rb')
    assert.doesNotMatch(await ok(aws('s3', 'ls'), 'aws s3 ls'), /\bbkt-big\b/)
  })

  test('sync a directory up (and again with --delete), then down: identical trees', async () => {
    const src = join(dir, 'tree')
    const files: Record<string, Buffer> = {
      'top.txt': Buffer.from('top\n'), 'a/one.bin': randomBytes(10_000), 'a/b/two.bin': randomBytes(6 * 1024 * 1024), 'a/b/c/three.bin': randomBytes(1),
    }
    for (const [rel, data] of Object.entries(files)) { mkdirSync(join(src, rel, '..'), { recursive: true }); writeFileSync(join(src, rel), data) }
    await ok(aws('s3', 'mb', 's3://bkt-sync'), 'aws s3 mb')
    const up = await ok(aws('s3', 'sync', src, 's3://bkt-sync/tree'), 'aws s3 sync up')
    assert.equal(up.match(/^upload:/gm)?.length, 4, up)
    assert.equal(await ok(aws('s3', 'sync', src, 's3://bkt-sync/tree'), 'aws s3 sync again'), '', 'nothing to upload the second time')
    files['new.txt'] = Buffer.from('new\n')
    writeFileSync(join(src, 'new.txt'), files['new.txt'])
    rmSync(join(src, 'top.txt'))
    delete files['top.txt']
    const third = await ok(aws('s3', 'sync', '--delete', src, 's3://bkt-sync/tree'), 'aws s3 sync --delete')
    assert.match(third, /upload: .*new\.txt/)
    assert.match(third, /delete: s3:\/\/bkt-sync\/tree\/top\.txt/)
    const down = join(dir, 'tree-down')
    await ok(aws('s3', 'sync', 's3://bkt-sync/tree', down), 'aws s3 sync down')
    const walk = (d: string, pre = ''): string[] => readdirSync(d, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(join(d, e.name), `${pre}${e.name}/`) : [`${pre}${e.name}`]))
    assert.deepEqual(walk(down).sort(), Object.keys(files).sort())
    for (const [rel, data] of Object.entries(files)) assert.ok(readFileSync(join(down, rel)).equals(data), rel)
    assert.deepEqual((await ok(run('swift', ['list', 'bkt-sync'], swiftEnv), 'swift list')).trim().split('\n').sort(),
      Object.keys(files).map((f) => `tree/${f}`).sort())
    await ok(aws('s3', 'rb', 's3://bkt-sync', '--force'), 'aws s3 rb --force')
  })

  test('presign: curl fetches the object; an expired URL is refused with AccessDenied', async () => {
    await ok(aws('s3', 'mb', 's3://bkt-presign'), 'aws s3 mb')
    const data = randomBytes(50_000)
    writeFileSync(join(dir, 'p.bin'), data)
    await ok(aws('s3', 'cp', join(dir, 'p.bin'), 's3://bkt-presign/p.bin'), 'aws s3 cp')
    const url = (await ok(aws('s3', 'presign', 's3://bkt-presign/p.bin', '--expires-in', '300'), 'aws s3 presign')).trim()
    assert.match(url, /X-Amz-Signature=/)
    const out = join(dir, 'p.curl')
    const got = await run('curl', ['-sS', '-o', out, '-w', '%{http_code}', url], process.env)
    assert.equal(got.stdout, '200', got.stderr)
    assert.ok(readFileSync(out).equals(data), 'presigned download differs')
    // A changed signature is refused.
    const forged = url.replace(/X-Amz-Signature=([0-9a-f])/, (_, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`)
    const bad = await run('curl', ['-sS', '-w', '\n%{http_code}', forged], process.env)
    assert.match(bad.stdout, /<Code>SignatureDoesNotMatch<\/Code>[^]*\n403$/)
    const short = (await ok(aws('s3', 'presign', 's3://bkt-presign/p.bin', '--expires-in', '1'), 'aws s3 presign 1 s')).trim()
    await new Promise((r) => setTimeout(r, 2100))
    const expired = await run('curl', ['-sS', '-w', '\n%{http_code}', short], process.env)
    assert.match(expired.stdout, /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/)
    assert.match(expired.stdout, /\n403$/)
    await ok(aws('s3', 'rb', 's3://bkt-presign', '--force'), 'aws s3 rb --force')
  })
})
