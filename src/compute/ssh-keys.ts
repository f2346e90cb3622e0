import { X509Certificate, createHash, createPublicKey, generateKeyPair, randomBytes, sign } from 'node:crypto'
import { promisify } from 'node:util'
import { badRequest } from '../core/errors.ts'

// Key pair material: validating imported keys, fingerprints as Nova computes them
// (nova/crypto.py), and generating a key pair when the client brings none.

const invalid = () => badRequest('Keypair data is invalid: failed to generate fingerprint')

/** Reads the length-prefixed fields of an SSH wire-format key blob (RFC 4253 §6.6). */
function sshFields(blob: Buffer): Buffer[] {
  const out: Buffer[] = []
  let i = 0
  while (i < blob.length) {
    if (i + 4 > blob.length) throw invalid()
    const n = blob.readUInt32BE(i)
    if (i + 4 + n > blob.length) throw invalid()
    out.push(blob.subarray(i + 4, i + 4 + n))
    i += 4 + n
  }
  return out
}

const b64url = (b: Buffer) => {
  let s = 0
  while (s < b.length - 1 && b[s] === 0) s++ // mpints carry a sign byte
  return b.subarray(s).toString('base64url')
}

const CURVES: Record<string, string> = { nistp256: 'P-256', nistp384: 'P-384', nistp521: 'P-521' }

/**
 * Checks an OpenSSH public key line ("ssh-rsa AAAA… comment") by decoding it and loading the
 * key with node:crypto; returns Nova's fingerprint (MD5 of the blob, colon-separated hex).
 */
export function sshFingerprint(line: string): string {
  const parts = line.trim().split(/\s+/)
  if (parts.length < 2 || !/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1]!)) throw invalid()
  const blob = Buffer.from(parts[1]!, 'base64')
  const f = sshFields(blob)
  const type = f[0]?.toString()
  if (type !== parts[0]) throw invalid()
  try {
    if (type === 'ssh-rsa' && f.length === 3) {
      createPublicKey({ key: { kty: 'RSA', e: b64url(f[1]!), n: b64url(f[2]!) }, format: 'jwk' })
    } else if (type === 'ssh-ed25519' && f.length === 2 && f[1]!.length === 32) {
      createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: f[1]!.toString('base64url') }, format: 'jwk' })
    } else if (type?.startsWith('ecdsa-sha2-') && f.length === 3 && CURVES[f[1]!.toString()] && f[2]![0] === 4) {
      const point = f[2]!.subarray(1)
      const half = point.length / 2
      createPublicKey({ key: { kty: 'EC', crv: CURVES[f[1]!.toString()], x: point.subarray(0, half).toString('base64url'),
        y: point.subarray(half).toString('base64url') }, format: 'jwk' })
    } else if (type === 'ssh-dss' && f.length === 5) {
      // DSA keys: structure checked above; node:crypto cannot import them from parts.
    } else {
      throw invalid()
    }
  } catch {
    throw invalid()
  }
  return colonHex(createHash('md5').update(blob).digest('hex'))
}

/** Checks a PEM X.509 certificate; its fingerprint is the SHA-1 of the DER, as Nova's. */
export function x509Fingerprint(pem: string): string {
  try {
    return new X509Certificate(pem).fingerprint.toLowerCase()
  } catch {
    throw invalid()
  }
}

function colonHex(hex: string): string { return hex.match(/../g)!.join(':') }

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4); len.writeUInt32BE(b.length)
  return Buffer.concat([len, b])
}
function mpint(b64: string): Buffer {
  let b = Buffer.from(b64, 'base64url')
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b])
  return sshString(b)
}

/**
 * A new RSA 2048 key pair, as Nova generates one: the public key in OpenSSH format, the
 * private key in PEM (PKCS#1, which ssh reads), returned to the client once and never stored.
 */
export async function generateSshKeyPair(): Promise<{ publicKey: string; privateKey: string; fingerprint: string }> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048, publicExponent: 65537 })
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string }
  const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), mpint(jwk.e), mpint(jwk.n)])
  const line = `ssh-rsa ${blob.toString('base64')} Generated-by-Nova`
  return {
    publicKey: line,
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    fingerprint: colonHex(createHash('md5').update(blob).digest('hex')),
  }
}

// --- X.509: a self-signed certificate, DER-encoded by hand (node:crypto signs but does not
// issue certificates). Only the few ASN.1 types a minimal v3 certificate needs.

function der(tag: number, content: Buffer): Buffer {
  const n = content.length
  const len = n < 0x80 ? Buffer.from([n])
    : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff])
    : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), len, content])
}
const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts))
const set = (...parts: Buffer[]) => der(0x31, Buffer.concat(parts))
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]]
  const bytes = [40 * a + b]
  for (const n of rest) {
    const enc = [n & 0x7f]
    for (let v = n >>> 7; v > 0; v >>>= 7) enc.unshift((v & 0x7f) | 0x80)
    bytes.push(...enc)
  }
  return der(0x06, Buffer.from(bytes))
}
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z' // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(iso.slice(2))) : der(0x18, Buffer.from(iso))
}
const SHA256_RSA = seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]))

/**
 * A new RSA 2048 key and a self-signed certificate for it (what Nova makes for an x509 key
 * pair without public_key): the certificate is the key pair's public key.
 */
export async function generateX509KeyPair(commonName: string, now = new Date()):
  Promise<{ publicKey: string; privateKey: string; fingerprint: string }> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048, publicExponent: 65537 })
  const serial = randomBytes(16); serial[0]! &= 0x7f
  const name = seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName)))))
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), der(0x02, serial), SHA256_RSA, name,
    seq(time(now), time(new Date(now.getTime() + 10 * 365 * 86400_000))), name,
    publicKey.export({ type: 'spki', format: 'der' }),
  )
  const signature = sign('sha256', tbs, privateKey)
  const cert = seq(tbs, SHA256_RSA, der(0x03, Buffer.concat([Buffer.from([0]), signature])))
  const pem = `-----BEGIN CERTIFICATE-----\n${cert.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`
  return {
    publicKey: pem,
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    fingerprint: x509Fingerprint(pem),
  }
}
