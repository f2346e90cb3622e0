// The client side of SigV4, for tests and the benchmark: signed headers, presigned URLs and
// signed aws-chunked uploads. Built on the same canonicalisation as the verifier (sigv4-core.ts);
// the tests pin both to AWS's published signatures.
import {
  ALGORITHM, EMPTY_SHA256, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, UNSIGNED_PAYLOAD, canonicalQuery,
  canonicalRequest, canonicalUri, chunkStringToSign, credentialScope, hmac, sha256Hex, signingKey, stringToSign,
  toAmzDate, trailerStringToSign,
} from './sigv4-core.ts'

/** An access key, its secret and where it signs. */
export interface ClientCredentials {
  accessKey: string
  secret: string
  region: string
  /** Default 's3'. */
  service?: string
}

/** A request to sign. */
export interface SignInput {
  method: string
  url: string | URL
  headers?: Record<string, string>
  /** The body, hashed into x-amz-content-sha256 (unless payloadHash is given). */
  body?: Buffer | string
  /** x-amz-content-sha256 as sent (e.g. UNSIGNED-PAYLOAD); default: sha256 of body (or of ''). */
  payloadHash?: string
  /** Default: now. */
  date?: Date
  /** Leave x-amz-content-sha256 out of the headers (generic SigV4, as AWS's test suite signs). */
  omitContentSha256?: boolean
}

function lowerHeaders(h: Record<string, string> | undefined): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (const [k, v] of Object.entries(h ?? {})) {
    const name = k.toLowerCase()
    m.set(name, [...(m.get(name) ?? []), v])
  }
  return m
}

/** The canonical URI and query of a URL (its path and query as they go on the wire). */
function uriParts(url: URL): { uri: string; query: string } {
  return { uri: canonicalUri(url.pathname)!, query: canonicalQuery(url.search.replace(/^\?/, ''))! }
}

/** Signs a request; returns every header to send (the input's plus host, x-amz-date, x-amz-content-sha256, authorization). */
export function signRequest(input: SignInput, c: ClientCredentials): Record<string, string> {
  const url = typeof input.url === 'string' ? new URL(input.url) : input.url
  const service = c.service ?? 's3'
  const amzDate = toAmzDate(input.date ?? new Date())
  const payloadHash = input.payloadHash ?? (input.body === undefined ? EMPTY_SHA256 : sha256Hex(input.body))
  const headers = lowerHeaders(input.headers)
  if (!headers.has('host')) headers.set('host', [url.host])
  headers.set('x-amz-date', [amzDate])
  if (!input.omitContentSha256) headers.set('x-amz-content-sha256', [payloadHash])
  const signed = [...headers.keys()].sort()
  const { uri, query } = uriParts(url)
  const scope = credentialScope(amzDate.slice(0, 8), c.region, service)
  const canonical = canonicalRequest(input.method, uri, query, headers, signed, payloadHash)
  const signature = hmac(signingKey(c.secret, amzDate.slice(0, 8), c.region, service), stringToSign(amzDate, scope, canonical)).toString('hex')
  const out: Record<string, string> = {}
  for (const [k, v] of headers) out[k] = v.join(',')
  out.authorization = `${ALGORITHM} Credential=${c.accessKey}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`
  return out
}

/** A presigned URL (query-string auth, UNSIGNED-PAYLOAD), valid `expires` seconds from `date`. */
export function presignUrl(input: { method: string; url: string | URL; expires: number; date?: Date;
  headers?: Record<string, string> }, c: ClientCredentials): string {
  const url = new URL(String(input.url))
  const service = c.service ?? 's3'
  const amzDate = toAmzDate(input.date ?? new Date())
  const scope = credentialScope(amzDate.slice(0, 8), c.region, service)
  const headers = lowerHeaders(input.headers)
  if (!headers.has('host')) headers.set('host', [url.host])
  const signed = [...headers.keys()].sort()
  url.searchParams.set('X-Amz-Algorithm', ALGORITHM)
  url.searchParams.set('X-Amz-Credential', `${c.accessKey}/${scope}`)
  url.searchParams.set('X-Amz-Date', amzDate)
  url.searchParams.set('X-Amz-Expires', String(input.expires))
  url.searchParams.set('X-Amz-SignedHeaders', signed.join(';'))
  const { uri, query } = uriParts(url)
  const canonical = canonicalRequest(input.method, uri, query, headers, signed, UNSIGNED_PAYLOAD)
  const signature = hmac(signingKey(c.secret, amzDate.slice(0, 8), c.region, service), stringToSign(amzDate, scope, canonical)).toString('hex')
  url.searchParams.set('X-Amz-Signature', signature)
  return url.toString()
}

/** Chunk signing state for encodeAwsChunked. */
export interface ChunkSigner { signingKey: Buffer; amzDate: string; scope: string; seedSignature: string }

/**
 * Encodes a body as aws-chunked with `chunkSize`-byte chunks; signs each chunk when `signer` is
 * given, and appends `trailers` (signed with x-amz-trailer-signature in the signed mode).
 */
export function encodeAwsChunked(body: Buffer, chunkSize: number, signer?: ChunkSigner,
                                 trailers?: Record<string, string>): Buffer {
  const out: Buffer[] = []
  let prev = signer?.seedSignature ?? ''
  const chunkHead = (size: number, data: Buffer) => {
    if (!signer) return `${size.toString(16)}\r\n`
    prev = hmac(signer.signingKey, chunkStringToSign(signer.amzDate, signer.scope, prev, sha256Hex(data))).toString('hex')
    return `${size.toString(16)};chunk-signature=${prev}\r\n`
  }
  for (let off = 0; off < body.length; off += chunkSize) {
    const data = body.subarray(off, Math.min(off + chunkSize, body.length))
    out.push(Buffer.from(chunkHead(data.length, data)), data, Buffer.from('\r\n'))
  }
  out.push(Buffer.from(chunkHead(0, Buffer.alloc(0))))
  if (trailers) {
    let canon = ''
    for (const [k, v] of Object.entries(trailers)) {
      canon += `${k}:${v}\n`
      out.push(Buffer.from(`${k}:${v}\r\n`))
    }
    if (signer) {
      const sig = hmac(signer.signingKey, trailerStringToSign(signer.amzDate, signer.scope, prev, sha256Hex(canon))).toString('hex')
      out.push(Buffer.from(`x-amz-trailer-signature:${sig}\r\n`))
    }
  }
  out.push(Buffer.from('\r\n'))
  return Buffer.concat(out)
}

/**
 * Signs a STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload (with trailers: the -TRAILER variant):
 * returns the headers and the encoded body to send.
 */
export function signChunkedUpload(input: { method: string; url: string | URL; headers?: Record<string, string>;
  body: Buffer; chunkSize: number; date?: Date; trailers?: Record<string, string> }, c: ClientCredentials):
  { headers: Record<string, string>; body: Buffer } {
  const date = input.date ?? new Date()
  const amzDate = toAmzDate(date)
  const service = c.service ?? 's3'
  const scope = credentialScope(amzDate.slice(0, 8), c.region, service)
  const key = signingKey(c.secret, amzDate.slice(0, 8), c.region, service)
  const dummy: ChunkSigner = { signingKey: key, amzDate, scope, seedSignature: '0'.repeat(64) }
  // Signatures have a fixed length, so a dry run gives the encoded length that must be signed.
  const encodedLength = encodeAwsChunked(input.body, input.chunkSize, dummy, input.trailers).length
  const headers: Record<string, string> = {
    ...input.headers, 'content-encoding': 'aws-chunked', 'content-length': String(encodedLength),
    'x-amz-decoded-content-length': String(input.body.length),
  }
  if (input.trailers) headers['x-amz-trailer'] = Object.keys(input.trailers).join(',')
  const signed = signRequest({ method: input.method, url: input.url, headers, date,
    payloadHash: input.trailers ? STREAMING_SIGNED_TRAILER : STREAMING_SIGNED }, c)
  const seedSignature = /Signature=([0-9a-f]{64})/.exec(signed.authorization!)![1]!
  return { headers: signed, body: encodeAwsChunked(input.body, input.chunkSize, { ...dummy, seedSignature }, input.trailers) }
}
