import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KeyRepository } from './token-keys.ts'
import { decodeToken, encodeToken, type TokenPayload } from './tokens.ts'

const dir = mkdtempSync(join(tmpdir(), 'cumulo-keys-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const payload: TokenPayload = { userId: 'u1', methods: ['password', 'token'], projectId: 'p1', issuedAt: 1, expiresAt: 2, auditIds: ['a', 'b'] }

test('a new repository holds a staged and a primary key, readable only by the owner', () => {
  const k = KeyRepository.open(join(dir, 'r1'))
  assert.deepEqual(readdirSync(join(dir, 'r1')).sort(), ['0', '1'])
  assert.equal(statSync(join(dir, 'r1', '1')).mode & 0o777, 0o600)
  assert.deepEqual(decodeToken(k, encodeToken(k, payload)), payload)
})

test('tokens survive a rotation, stop validating once their key is dropped, and another process sees rotations', () => {
  const path = join(dir, 'r2')
  const server = KeyRepository.open(path)
  const old = encodeToken(server, payload)
  const admin = KeyRepository.open(path)   // `cumulo token-keys rotate` in another process
  admin.rotate(3)
  assert.equal(server.load(), true)
  assert.deepEqual(decodeToken(server, old), payload, 'still valid after one rotation')
  const newer = encodeToken(server, payload)
  admin.rotate(3)   // three active keys (staged, primary, one secondary): a token survives one rotation
  server.load()
  assert.equal(decodeToken(server, old), null, 'its key was dropped')
  assert.deepEqual(decodeToken(server, newer), payload)
  assert.equal(server.load(), false, 'nothing changed since the last load')
})

test('tampered, truncated and foreign tokens are rejected', () => {
  const k = KeyRepository.open(null)
  const other = KeyRepository.open(null)
  const t = encodeToken(k, payload)
  const flipped = t.slice(0, 40) + (t[40] === 'A' ? 'B' : 'A') + t.slice(41)
  assert.equal(decodeToken(k, flipped), null)
  assert.equal(decodeToken(k, t.slice(0, -4)), null)
  assert.equal(decodeToken(other, t), null)
  assert.equal(decodeToken(k, 'not a token'), null)
  assert.equal(decodeToken(k, ''), null)
})
