import { createPrivateKey, createPublicKey } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type ComputeHarness, computeHarness } from '../testing.ts'

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE3FiC1h/0eR6NmiqvgyX91RRlEByqx/XH9jazykGC3s test@cumulo'
const ED25519_MD5 = 'af:c8:47:21:96:11:a6:45:9a:27:ff:21:16:49:95:8d'
const CERT = `-----BEGIN CERTIFICATE-----
MIIBgjCCASmgAwIBAgIUTkQl7bCJcLzfa+HCBjkqtvHTBecwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLY3VtdWxvLXRlc3QwIBcNMjYxMTI1MDAzNDU4WhgPMjEyNjEx
MDEwMDM0NThaMBYxFDASBgNVBAMMC2N1bXVsby10ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEIVheDKvLfIYSZQs/ijVuRmenkhMPxnMbkhYX+cuUjK7/kBhW
R4aMG8+9f2gryQve8LZjrRsCBttD78vHTRJrAKNTMFEwHQYDVR0OBBYEFHdYHdUA
HMeeMIfFrnXZUwBtD68SMB8GA1UdIwQYMBaAFHdYHdUAHMeeMIfFrnXZUwBtD68S
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgXGTnlR0i09DSExZ8
9rYF2MnkKZIJnGQjSRQw+rvSoskCICNZRLVDhWbQo//jRgX3oYfvGCzGKUJ9TgRR
W2khwvkP
-----END CERTIFICATE-----
`

describe('key pairs', () => {
  let h: ComputeHarness
  let alice: { projectId: string; userId: string; token: string }
  let bob: { projectId: string; userId: string; token: string }
  before(async () => {
    h = await computeHarness()
    alice = await h.projectUser('member')
    bob = await h.projectUser('member')
  })
  after(async () => { await h.close() })

  test('generate (2.1: 200, private key once), show, list, delete (202)', async () => {
    let r = await h.json('POST', '/v2.1/os-keypairs', { token: alice.token, body: { keypair: { name: 'gen' } } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    const k = r.body.keypair
    assert.match(k.public_key, /^ssh-rsa AAAA\S+ Generated-by-Nova$/)
    assert.match(k.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/)
    assert.equal(k.user_id, alice.userId)
    assert.equal(k.type, undefined)
    // The private key is a real RSA key matching the public one.
    const priv = createPrivateKey(k.private_key)
    assert.equal(priv.asymmetricKeyType, 'rsa')
    const n = Buffer.from((createPublicKey(priv).export({ format: 'jwk' }) as any).n, 'base64url')
    assert.ok(Buffer.from(k.public_key.split(' ')[1], 'base64').includes(n))
    r = await h.json('GET', '/v2.1/os-keypairs/gen', { token: alice.token })
    assert.equal(r.status, 200)
    assert.equal(r.body.keypair.private_key, undefined)
    assert.equal(r.body.keypair.deleted, false)
    assert.equal(r.body.keypair.fingerprint, k.fingerprint)
    r = await h.json('GET', '/v2.1/os-keypairs', { token: alice.token })
    assert.deepEqual(r.body.keypairs.map((x: any) => x.keypair.name), ['gen'])
    r = await h.json('DELETE', '/v2.1/os-keypairs/gen', { token: alice.token })
    assert.equal(r.status, 202)
    assert.equal((await h.json('GET', '/v2.1/os-keypairs/gen', { token: alice.token })).status, 404)
  })

  test('import an SSH key and an x509 certificate (2.2: type, 201, 204)', async () => {
    let r = await h.json('POST', '/v2.1/os-keypairs', { token: alice.token, version: '2.2', body: { keypair: { name: 'imp', public_key: ED25519 } } })
    assert.equal(r.status, 201)
    assert.equal(r.body.keypair.fingerprint, ED25519_MD5)
    assert.equal(r.body.keypair.type, 'ssh')
    assert.equal(r.body.keypair.private_key, undefined)
    r = await h.json('POST', '/v2.1/os-keypairs', { token: alice.token, version: '2.2', body: { keypair: { name: 'cert', type: 'x509', public_key: CERT } } })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.equal(r.body.keypair.fingerprint, '5d:df:44:16:6a:76:5b:b6:5f:88:a5:a9:6f:43:55:bf:da:1a:12:05')
    r = await h.json('GET', '/v2.1/os-keypairs', { token: alice.token, version: '2.2' })
    assert.deepEqual(r.body.keypairs.map((x: any) => [x.keypair.name, x.keypair.type]), [['cert', 'x509'], ['imp', 'ssh']])
    r = await h.json('DELETE', '/v2.1/os-keypairs/cert', { token: alice.token, version: '2.2' })
    assert.equal(r.status, 204)
    r = await h.json('POST', '/v2.1/os-keypairs', { token: alice.token, body: { keypair: { name: 'imp', public_key: ED25519 } } })
    assert.equal(r.status, 409)
    assert.equal(r.body.conflictingRequest.message, "Key pair 'imp' already exists.")
  })

  test('bad input: 400, nothing created', async () => {
    const bad = [
      { name: 'x', public_key: 'ssh-rsa notbase64!!' },
      { name: 'x', public_key: 'ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIE3FiC1h/0eR6NmiqvgyX91RRlEByqx/XH9jazykGC3s' },
      { name: 'x', public_key: ED25519.replace('AAAAIE3F', 'AAAAIE4F').slice(0, 60) },
      { name: 'bad/name', public_key: ED25519 },
      { name: '' }, { name: 'x'.repeat(256) }, { name: 'x', type: 'ssh' }, { name: 'x', bogus: 1 },
    ]
    for (const keypair of bad) {
      const r = await h.json('POST', '/v2.1/os-keypairs', { token: bob.token, body: { keypair } })
      assert.equal(r.status, 400, JSON.stringify(keypair))
      assert.ok(r.body.badRequest.message)
    }
    let r = await h.json('POST', '/v2.1/os-keypairs', { token: bob.token, version: '2.2', body: { keypair: { name: 'x', type: 'rsa' } } })
    assert.equal(r.status, 400)
    r = await h.json('POST', '/v2.1/os-keypairs', { token: bob.token, body: { keypair: { name: 'x', public_key: 'garbage' } } })
    assert.equal(r.body.badRequest.message, 'Keypair data is invalid: failed to generate fingerprint')
    assert.deepEqual((await h.json('GET', '/v2.1/os-keypairs', { token: bob.token })).body.keypairs, [])
  })

  test('users see only their own key pairs; admins name a user at 2.10', async () => {
    await h.json('POST', '/v2.1/os-keypairs', { token: bob.token, body: { keypair: { name: 'bobs', public_key: ED25519 } } })
    assert.deepEqual((await h.json('GET', '/v2.1/os-keypairs', { token: alice.token })).body.keypairs.map((x: any) => x.keypair.name), ['imp'])
    assert.equal((await h.json('GET', '/v2.1/os-keypairs/bobs', { token: alice.token })).status, 404)
    assert.equal((await h.json('DELETE', '/v2.1/os-keypairs/bobs', { token: alice.token })).status, 404)
    let r = await h.json('GET', `/v2.1/os-keypairs?user_id=${bob.userId}`, { token: alice.token, version: '2.10' })
    assert.equal(r.status, 403)
    r = await h.json('GET', `/v2.1/os-keypairs?user_id=${bob.userId}`, { version: '2.10' })
    assert.deepEqual(r.body.keypairs.map((x: any) => x.keypair.name), ['bobs'])
    r = await h.json('POST', '/v2.1/os-keypairs', { version: '2.10', body: { keypair: { name: 'for-bob', public_key: ED25519, user_id: bob.userId } } })
    assert.equal(r.status, 201)
    assert.equal(r.body.keypair.user_id, bob.userId)
    r = await h.json('POST', '/v2.1/os-keypairs', { token: alice.token, version: '2.10', body: { keypair: { name: 'for-bob2', public_key: ED25519, user_id: bob.userId } } })
    assert.equal(r.status, 403)
    r = await h.json('GET', `/v2.1/os-keypairs/for-bob?user_id=${bob.userId}`, { version: '2.10' })
    assert.equal(r.body.keypair.user_id, bob.userId)
    r = await h.json('GET', '/v2.1/os-keypairs/for-bob', { token: bob.token })
    assert.equal(r.status, 200)
  })

  test('paging at 2.35', async () => {
    const carol = await h.projectUser('member')
    for (const n of ['a', 'b', 'c']) {
      await h.json('POST', '/v2.1/os-keypairs', { token: carol.token, body: { keypair: { name: n, public_key: ED25519 } } })
    }
    let r = await h.json('GET', '/v2.1/os-keypairs?limit=2', { token: carol.token, version: '2.35' })
    assert.deepEqual(r.body.keypairs.map((x: any) => x.keypair.name), ['a', 'b'])
    assert.match(r.body.keypairs_links[0].href, /os-keypairs\?limit=2&marker=b$/)
    r = await h.json('GET', '/v2.1/os-keypairs?limit=2&marker=b', { token: carol.token, version: '2.35' })
    assert.deepEqual(r.body.keypairs.map((x: any) => x.keypair.name), ['c'])
    assert.equal(r.body.keypairs_links, undefined)
    r = await h.json('GET', '/v2.1/os-keypairs?marker=zz', { token: carol.token, version: '2.35' })
    assert.equal(r.status, 400)
    // Before 2.35 paging parameters are ignored.
    r = await h.json('GET', '/v2.1/os-keypairs?limit=1', { token: carol.token })
    assert.equal(r.body.keypairs.length, 3)
  })
})

describe('generated x509 key pairs', () => {
  test('a self-signed certificate that verifies with its own key, and the private key', async () => {
    const { X509Certificate, createPrivateKey, createPublicKey } = await import('node:crypto')
    const h = await computeHarness()
    try {
      const r = await h.json('POST', '/v2.1/os-keypairs', { version: '2.2', body: { keypair: { name: 'cert', type: 'x509' } } })
      assert.equal(r.status, 201, JSON.stringify(r.body))
      const cert = new X509Certificate(r.body.keypair.public_key)
      assert.ok(cert.verify(cert.publicKey))
      assert.match(cert.subject, /CN=/)
      assert.equal(r.body.keypair.fingerprint, cert.fingerprint.toLowerCase())
      const priv = createPrivateKey(r.body.keypair.private_key)
      assert.deepEqual(createPublicKey(priv).export({ format: 'jwk' }), cert.publicKey.export({ format: 'jwk' }))
      assert.ok(cert.checkPrivateKey(priv))
    } finally { await h.close() }
  })
})
