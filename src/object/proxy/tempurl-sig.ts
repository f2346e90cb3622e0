// What TempURL and FormPOST share (Swift's swift/common/digest.py and the key lookup of
// tempurl.py): the digests a signature may use, how a client's signature is read (hex, or
// "<digest>:<base64>"), HMACs compared in constant time, the accounts' and containers'
// Temp-URL keys, and Python's int() and quote() as Swift applies them to client values.
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { ProxyContext } from './context.ts'

/** Digests a signature may use (Swift's DEFAULT_ALLOWED_DIGESTS), sorted as /info lists them. */
export const ALLOWED_DIGESTS: readonly string[] = ['sha1', 'sha256', 'sha512']
/** Allowed but deprecated (Swift's DEPRECATED_DIGESTS). */
export const DEPRECATED_DIGESTS: readonly string[] = ['sha1']

/** Key of `req.env` where app.ts records the URL's API version ("v1", "v1.0"): signatures name it. */
export const VERSION_ENV = 'swift.version'

const HEX_LENGTHS: Record<number, string> = { 40: 'sha1', 64: 'sha256', 128: 'sha512' }

/**
 * Swift's extract_digest_and_algorithm: "<hex>" (the digest told by its length) or
 * "<algorithm>:<base64>" (standard or URL-safe alphabet, padding optional) → the algorithm
 * and the signature as lower-case hex; undefined when it cannot be read.
 */
export function extractDigest(value: string): { algo: string; hex: string } | undefined {
  const colon = value.indexOf(':')
  if (colon < 0) {
    if (value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value)) return undefined
    const algo = HEX_LENGTHS[value.length]
    // Hex is compared as sent: Swift's digests are lower-case, so upper-case hex never matches.
    return algo ? { algo, hex: value } : undefined
  }
  const algo = value.slice(0, colon)
  let b64 = value.slice(colon + 1)
  if (/[-_]/.test(b64) && !/[+/]/.test(b64)) b64 = b64.replaceAll('-', '+').replaceAll('_', '/')
  // strict_b64decode: only the alphabet (padding at the ends), and a whole number of bytes.
  const data = b64.replace(/^=+|=+$/g, '')
  if (!/^[A-Za-z0-9+/]*$/.test(data) || data.length % 4 === 1) return undefined
  return { algo, hex: Buffer.from(data, 'base64').toString('hex') }
}

/** Hex HMAC of `message` under `key` (both UTF-8), as Swift's get_hmac. */
export function hmacHex(algo: string, key: string, message: string): string {
  return createHmac(algo, key).update(message).digest('hex')
}

/** Constant-time string equality (Swift's streq_const_time). */
export function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** A Temp-URL key and where it was set: account keys reach the whole account, container keys their container. */
export interface ScopedKey { key: string; scope: 'account' | 'container' }

function keysIn(headers: Record<string, string>, prefix: string): string[] {
  const out: string[] = []
  for (const name of [`${prefix}temp-url-key`, `${prefix}temp-url-key-2`]) {
    const v = headers[name]
    if (v !== undefined && v !== '') out.push(v)
  }
  return out
}

/**
 * The Temp-URL keys that may sign a request on `container` (Swift's _get_keys): the account's
 * X-Account-Meta-Temp-URL-Key(-2) and the container's X-Container-Meta-Temp-URL-Key(-2), from
 * the proxy's account and container info (cached HEADs).
 */
export async function tempUrlKeys(ctx: ProxyContext, account: string, container: string): Promise<ScopedKey[]> {
  const [ai, ci] = await Promise.all([ctx.infos.account(account), ctx.infos.container(account, container)])
  const ok = (s: number) => s >= 200 && s < 300
  return [
    ...(ok(ai.status) ? keysIn(ai.headers, 'x-account-meta-') : []).map((key) => ({ key, scope: 'account' as const })),
    ...(ok(ci.status) ? keysIn(ci.headers, 'x-container-meta-') : []).map((key) => ({ key, scope: 'container' as const })),
  ]
}

/** Python's int() of a client string (spaces, sign, '_' between digits), as a bigint; undefined when not an integer. */
export function pyInt(s: string): bigint | undefined {
  const m = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(s)
  if (!m) return undefined
  const n = BigInt(m[2]!.replaceAll('_', ''))
  return m[1] === '-' ? -n : n
}

/** Python's urllib quote(): UTF-8 percent-encoding of all but letters, digits, "_.-~" and `safe`. */
export function pyQuote(s: string, safe = '/'): string {
  let out = ''
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b)
    out += /[A-Za-z0-9_.\-~]/.test(c) || (b < 0x80 && safe.includes(c)) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}
