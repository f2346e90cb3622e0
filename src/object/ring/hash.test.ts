import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashPath, hashPathRaw, loadOrCreateHashConfig, partitionOf, readHashConfig } from './hash.ts'

const dir = mkdtempSync(join(tmpdir(), 'cumulo-hash-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('hashPath matches Swift hash_path', () => {
  // From swift test_utils.test_hash_path (suffix "endcap") and python3 hashlib.md5.
  const swift = { prefix: '', suffix: 'endcap' }
  assert.equal(hashPath(swift, 'a'), '1c84525acb02107ea475dcd3d09c2c58')
  assert.equal(hashPath(swift, 'a', 'c'), '33379ecb053aa5c9e356c68997cbb59e')
  assert.equal(hashPath(swift, 'a', 'c', 'o'), '06fbf0b514e5199dfc4e00f42eb5ea83')
  assert.equal(hashPath({ prefix: 'abcdef', suffix: 'endcap' }, 'a', 'c', 'o'), '363f9b535bfb7d17a43a46a358afca0e')
  const none = { prefix: '', suffix: '' }
  assert.equal(hashPath(none, 'a', 'c', 'o'), '8ac2bf59556b61bb5cc521ccb51c200a') // md5('/a/c/o')
  assert.equal(hashPath(none, 'AUTH_test'), '50556319ff183c6ba65df78853cf2eca')
  assert.equal(hashPath(none, 'AUTH_test', 'c'), '01157aa5908b49b4fb4b1238265443d1')
  // UTF-8 bytes are hashed: md5('pre/AUTH_test/cont/obj/é😀suf').
  assert.equal(hashPath({ prefix: 'pre', suffix: 'suf' }, 'AUTH_test', 'cont', 'obj/é😀'), '25b6faba42442b7895e16a00ce2659c1')
  assert.deepEqual(hashPathRaw(swift, 'a', 'c', 'o').toString('hex'), '06fbf0b514e5199dfc4e00f42eb5ea83')
})

test('hashPath: empty container counts as absent; object needs a container', () => {
  const cfg = { prefix: '', suffix: 'endcap' }
  assert.equal(hashPath(cfg, 'a', ''), hashPath(cfg, 'a'))
  assert.equal(hashPath(cfg, 'a', 'c', ''), hashPath(cfg, 'a', 'c'))
  assert.throws(() => hashPath(cfg, 'a', undefined, 'o'), /container is required/)
  assert.throws(() => hashPath(cfg, 'a', '', 'o'), /container is required/)
})

test('partitionOf takes the top partPower bits of the first 4 bytes', () => {
  const h = '06fbf0b514e5199dfc4e00f42eb5ea83'
  assert.equal(partitionOf(h, 0), 0)
  assert.equal(partitionOf(h, 1), 0)
  assert.equal(partitionOf(h, 8), 0x06)
  assert.equal(partitionOf(h, 10), 0x06fbf0b5 >>> 22)
  assert.equal(partitionOf(h, 16), 0x06fb)
  assert.equal(partitionOf(h, 32), 0x06fbf0b5)
  assert.equal(partitionOf('ffffffff00', 18), 2 ** 18 - 1)
  assert.equal(partitionOf(Buffer.from(h, 'hex'), 16), 0x06fb)
  assert.throws(() => partitionOf('xyz', 8), /not a hash/)
})

test('loadOrCreateHashConfig creates a private random secret once and keeps it', () => {
  const d = join(dir, 'node1')
  const a = loadOrCreateHashConfig(d)
  assert.match(a.prefix, /^[0-9a-f]{32}$/)
  assert.match(a.suffix, /^[0-9a-f]{32}$/)
  assert.equal(statSync(join(d, 'hash.json')).mode & 0o777, 0o600)
  assert.deepEqual(loadOrCreateHashConfig(d), a)
  assert.deepEqual(readHashConfig(join(d, 'hash.json')), a)
  assert.deepEqual(readdirSync(d), ['hash.json']) // no temp files left behind
  assert.notDeepEqual(loadOrCreateHashConfig(join(dir, 'node2')), a)
})

test('loadOrCreateHashConfig respects an existing file and rejects broken ones', () => {
  const d = join(dir, 'given')
  loadOrCreateHashConfig(d)
  writeFileSync(join(d, 'hash.json'), JSON.stringify({ prefix: '', suffix: 'endcap' }))
  assert.deepEqual(loadOrCreateHashConfig(d), { prefix: '', suffix: 'endcap' })
  writeFileSync(join(d, 'hash.json'), JSON.stringify({ prefix: '', suffix: '' }))
  assert.throws(() => loadOrCreateHashConfig(d), /both empty/)
  writeFileSync(join(d, 'hash.json'), '{"prefix": 1}')
  assert.throws(() => loadOrCreateHashConfig(d), /expected/)
  writeFileSync(join(d, 'hash.json'), 'not json')
  assert.throws(() => loadOrCreateHashConfig(d), /not valid JSON/)
  assert.equal(readFileSync(join(d, 'hash.json'), 'utf8'), 'not json') // never overwritten
})
