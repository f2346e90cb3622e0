// A real client end to end: the AWS CLI (`aws s3api` and `aws s3 cp`, multipart above a 5 MB
// threshold) against the S3 handler on a local port over the in-memory storage. Skipped with a
// message when `aws` is not installed, except in CI, where it must run.
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import type { FakeS3Storage } from './fake-storage.ts'
import { ALICE, startS3TestServer, type S3TestServer } from './testing.ts'

const run = promisify(execFile)
const hasAws = spawnSync('aws', ['--version'], { stdio: 'ignore' }).status === 0
// Under pyenv, `aws` is a shell shim costing about a second per call: call the real script.
const AWS = (hasAws && spawnSync('pyenv', ['which', 'aws'], { encoding: 'utf8' }).stdout?.trim()) || 'aws'
const skip = !hasAws && process.env.CI !== 'true' ? 'awscli is not installed (apt-get install awscli); skipping the aws e2e test' : false

describe('aws cli against the S3 handler', { skip }, () => {
  let srv: S3TestServer
  let dir: string
  let env: NodeJS.ProcessEnv
  const aws = async (...args: string[]) => {
    const { stdout } = await run(AWS, ['--endpoint-url', srv.url, '--output', 'json', ...args], { env, timeout: 60_000, maxBuffer: 1 << 24 })
    return stdout
  }

  before(async () => {
    srv = await startS3TestServer()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cumulo-awscli-'))
    const config = path.join(dir, 'config')
    fs.writeFileSync(config, '')
    fs.writeFileSync(path.join(dir, 'credentials'), '')
    env = {
      ...process.env, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
      AWS_ACCESS_KEY_ID: ALICE.accessKey, AWS_SECRET_ACCESS_KEY: ALICE.secret, AWS_DEFAULT_REGION: 'RegionOne',
      AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '',
    }
    delete env.AWS_PROFILE
    delete env.AWS_SESSION_TOKEN
    await run(AWS, ['configure', 'set', 'default.s3.multipart_threshold', '5MB'], { env })
  })
  after(async () => {
    await srv?.close()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  it('creates a bucket, puts, gets and lists objects with s3api', async () => {
    await aws('s3api', 'create-bucket', '--bucket', 'awscli-bucket')
    const small = path.join(dir, 'hello.txt')
    fs.writeFileSync(small, 'hello from the aws cli\n')
    const put = JSON.parse(await aws('s3api', 'put-object', '--bucket', 'awscli-bucket', '--key', 'docs/hello.txt', '--body', small,
      '--content-type', 'text/plain', '--metadata', 'origin=awscli'))
    assert.equal(put.ETag, `"${createHash('md5').update('hello from the aws cli\n').digest('hex')}"`)
    const out = path.join(dir, 'hello.out')
    const got = JSON.parse(await aws('s3api', 'get-object', '--bucket', 'awscli-bucket', '--key', 'docs/hello.txt', out))
    assert.equal(fs.readFileSync(out, 'utf8'), 'hello from the aws cli\n')
    assert.equal(got.ContentType, 'text/plain')
    assert.deepEqual(got.Metadata, { origin: 'awscli' })
    const list = JSON.parse(await aws('s3api', 'list-objects-v2', '--bucket', 'awscli-bucket', '--prefix', 'docs/'))
    assert.deepEqual(list.Contents.map((o: { Key: string }) => o.Key), ['docs/hello.txt'])
  })

  it('copies a 20 MB file up (multipart) and back with aws s3 cp', async () => {
    const data = randomBytes(20 * 1024 * 1024)
    const src = path.join(dir, 'big.bin')
    fs.writeFileSync(src, data)
    await aws('s3', 'cp', src, 's3://awscli-bucket/big.bin')
    const head = JSON.parse(await aws('s3api', 'head-object', '--bucket', 'awscli-bucket', '--key', 'big.bin'))
    assert.equal(head.ContentLength, data.length)
    assert.match(head.ETag, /-3"$/) // 8 + 8 + 4 MiB (the CLI's default part size): a multipart upload
    const back = path.join(dir, 'big.back')
    await aws('s3', 'cp', 's3://awscli-bucket/big.bin', back)
    assert.ok(fs.readFileSync(back).equals(data))
    const segments = (srv.storage as FakeS3Storage).objectNames('AUTH_p-alice', 'awscli-bucket+segments')
    assert.equal(segments?.length, 3) // the parts, and no upload marker left behind
  })
})
