import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, o: object) => Promise<Buffer>

/** Hashes a password with scrypt: `scrypt$N$r$p$salt$hash` (base64). */
export async function hashPassword(password: string, cost = 16384): Promise<string> {
  const salt = randomBytes(16)
  const h = await scrypt(password, salt, 32, { N: cost, r: 8, p: 1, maxmem: 256 * cost * 8 + 1024 * 1024 })
  return `scrypt$${cost}$8$1$${salt.toString('base64')}$${h.toString('base64')}`
}

/** Checks a password against a stored hash in constant time. */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  if (!stored) return false
  const [alg, n, r, p, salt, hash] = stored.split('$')
  if (alg !== 'scrypt' || !salt || !hash) return false
  const N = Number(n), R = Number(r), P = Number(p)
  const want = Buffer.from(hash, 'base64')
  const got = await scrypt(password, Buffer.from(salt, 'base64'), want.length,
    { N, r: R, p: P, maxmem: 256 * N * R + 1024 * 1024 })
  return got.length === want.length && timingSafeEqual(got, want)
}
