// The pieces of AWS Signature Version 4 that the verifier (sigv4.ts) and the client signer
// (sigv4-client.ts) share: S3's URI encoding, the canonical request, the string to sign and the
// derived signing key. Both sides build the canonical request with the same functions, so what
// the tests prove about one holds for the other.
import { createHash, createHmac } from 'node:crypto'

/** The one algorithm served. */
export const ALGORITHM = 'AWS4-HMAC-SHA256'
/** sha256 of the empty string: the payload hash of a bodiless request. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
/** Payload modes of x-amz-content-sha256 besides a hex digest. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'

export const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
export const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest()

/** AWS's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ is %XX (upper-case); '/' kept when `keepSlash`. */
export function uriEncode(s: string, keepSlash: boolean): string {
  let out = encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  if (keepSlash) out = out.replace(/%2F/g, '/')
  return out
}

/**
 * S3's canonical URI: the path decoded and re-encoded by AWS's rules, segment by segment, with no
 * normalisation (S3 keeps '//' and '.' segments). Decoding first makes the result independent of
 * how the client chose to escape (e.g. `$` sent raw or as %24). Undecodable → undefined.
 */
export function canonicalUri(rawPath: string): string | undefined {
  if (!rawPath) return '/'
  try {
    return rawPath.split('/').map((seg) => uriEncode(decodeURIComponent(seg), false)).join('/')
  } catch {
    return undefined
  }
}

/**
 * The canonical query string: parameters decoded ('+' as space), re-encoded, sorted by name then
 * value; `X-Amz-Signature` left out (it can't sign itself). Undecodable → undefined.
 */
export function canonicalQuery(rawQuery: string): string | undefined {
  if (!rawQuery) return ''
  const pairs: Array<[string, string]> = []
  try {
    for (const part of rawQuery.split('&')) {
      if (!part) continue
      const eq = part.indexOf('=')
      const k = decodeURIComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' '))
      if (k === 'X-Amz-Signature') continue
      const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '))
      pairs.push([uriEncode(k, false), uriEncode(v, false)])
    }
  } catch {
    return undefined
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
  return pairs.map(([k, v]) => `${k}=${v}`).join('&')
}

/** A header value as SigV4 canonicalises it: trimmed, inner runs of spaces collapsed. */
export function canonicalHeaderValue(v: string): string {
  return v.trim().replace(/\s+/g, ' ')
}

/**
 * The canonical request. `headers` maps lower-case names to their values in arrival order
 * (repeated headers are joined with ','); `signedHeaders` is the sorted, ';'-joined list.
 */
export function canonicalRequest(method: string, uri: string, query: string, headers: Map<string, string[]>,
                                 signedHeaders: string[], payloadHash: string): string {
  let canon = ''
  for (const name of signedHeaders) {
    const values = headers.get(name) ?? []
    canon += `${name}:${values.map(canonicalHeaderValue).join(',')}\n`
  }
  return `${method}\n${uri}\n${query}\n${canon}\n${signedHeaders.join(';')}\n${payloadHash}`
}

/** The credential scope `<yyyymmdd>/<region>/<service>/aws4_request`. */
export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/aws4_request`
}

/** The string to sign of a request. */
export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`
}

// Deriving the key costs four HMACs; a key is valid for a day, so recent ones are kept.
const keyCache = new Map<string, Buffer>()
const KEY_CACHE_MAX = 1024

/** The signing key of (secret, day, region, service), cached. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${date}\u0000${region}\u0000${service}\u0000${secret}`
  let key = keyCache.get(id)
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request')
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!)
    keyCache.set(id, key)
  }
  return key
}

/** The string one aws-chunked chunk's signature is computed over. */
export function chunkStringToSign(amzDate: string, scope: string, previousSignature: string, chunkSha256: string): string {
  return `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previousSignature}\n${EMPTY_SHA256}\n${chunkSha256}`
}

/** The string the trailer signature of a signed streaming upload is computed over. */
export function trailerStringToSign(amzDate: string, scope: string, previousSignature: string, trailerSha256: string): string {
  return `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${previousSignature}\n${trailerSha256}`
}

/** `Date` → `yyyymmddThhmmssZ`. */
export function toAmzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}

/** `yyyymmddThhmmssZ` → Date, or undefined when malformed. */
export function fromAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s)
  if (!m) return undefined
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)
  return Number.isNaN(t) ? undefined : new Date(t)
}
