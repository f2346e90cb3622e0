// AWS Signature Version 4 verification, as S3 does it: the Authorization header
// (AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...) and presigned URLs
// (X-Amz-Algorithm/Credential/Date/Expires/SignedHeaders/Signature). Verifying the request
// line and headers happens here, before any body is read; the payload is verified while it
// streams (payload.ts, aws-chunked.ts) according to the mode this returns.
import { timingSafeEqual } from 'node:crypto'
import { S3Error, s3err } from './errors.ts'
import {
  ALGORITHM, EMPTY_SHA256, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER,
  UNSIGNED_PAYLOAD, canonicalQuery, canonicalRequest, canonicalUri, credentialScope, fromAmzDate, hmac,
  signingKey, stringToSign, toAmzDate,
} from './sigv4-core.ts'

/** What the credential lookup returns for an access key (an EC2 credential of Keystone). */
export interface S3Credential { secret: string; projectId: string; userId: string }

/** Looks an access key up; undefined when unknown. */
export type CredentialLookup = (accessKey: string) => Promise<S3Credential | undefined>

/** What streaming verification needs to check aws-chunked chunk signatures. */
export interface ChunkSigning { signingKey: Buffer; amzDate: string; scope: string; seedSignature: string }

/** How the body must be verified, from x-amz-content-sha256. */
export type PayloadMode =
  | { kind: 'unsigned' }
  | { kind: 'sha256'; hex: string }
  /** aws-chunked body; `signing` when each chunk is signed; `trailer` when trailing headers follow. */
  | { kind: 'streaming'; trailer: boolean; signing?: ChunkSigning }

/** A verified request. */
export interface SigV4Auth { accessKey: string; credential: S3Credential; payload: PayloadMode }

/** The request as the verifier sees it: raw path and query, header values by lower-case name. */
export interface VerifyInput {
  method: string
  path: string
  query: string
  /** Query parameters, decoded (parse.ts parseQuery). */
  params: Map<string, string>
  headers: Map<string, string[]>
}

/** Options of verifySigV4. */
export interface VerifyOptions {
  lookup: CredentialLookup
  /** Regions accepted in the credential scope (the configured one and us-east-1). */
  regions: string[]
  now: Date
  /** Largest accepted clock difference for header auth; S3's is 15 minutes. */
  maxSkewMs?: number
}

const MAX_PRESIGN_SECONDS = 7 * 24 * 3600
const SKEW_MS = 15 * 60 * 1000
const UNSUPPORTED_MECHANISM = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.'

/** True when the request carries any kind of S3 authentication (otherwise it is anonymous). */
export function hasAuth(headers: Map<string, string[]>, params: Map<string, string>): boolean {
  return headers.has('authorization') || params.has('X-Amz-Algorithm') || params.has('X-Amz-Credential') ||
    params.has('AWSAccessKeyId') || params.has('X-Amz-Signature')
}

const first = (h: Map<string, string[]>, name: string) => h.get(name)?.[0]

interface Parsed {
  accessKey: string
  date: string
  region: string
  service: string
  signedHeaders: string[]
  signature: string
  amzDate: string
  presigned: boolean
  expires?: number
}

/** Verifies a signed request; throws the S3Error S3 would answer. */
export async function verifySigV4(r: VerifyInput, o: VerifyOptions): Promise<SigV4Auth> {
  const authz = first(r.headers, 'authorization')
  if (authz !== undefined && r.params.has('X-Amz-Algorithm')) {
    throw s3err('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified')
  }
  const p = authz !== undefined ? parseHeader(authz, r.headers) : parseQueryAuth(r.params)
  const kind = p.presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed'
  if (p.service !== 's3') throw s3err(kind, `Error parsing the X-Amz-Credential parameter; incorrect service "${p.service}". This endpoint belongs to "s3".`)
  if (!o.regions.includes(p.region)) {
    throw new S3Error(kind, `The authorization header is malformed; the region '${p.region}' is wrong; expecting '${o.regions[0]}'`,
      { Region: o.regions[0]! })
  }
  const time = fromAmzDate(p.amzDate)
  if (!time) throw s3err(kind, `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`)
  if (p.date !== p.amzDate.slice(0, 8)) throw s3err(kind, 'Invalid credential date. Date is not the same as X-Amz-Date.')
  checkTime(p, time, o)
  if (!p.signedHeaders.includes('host')) throw s3err(kind, 'Host must be a signed header')
  const unsigned = [...r.headers.keys()].filter((h) => h.startsWith('x-amz-') && !p.signedHeaders.includes(h))
  if (unsigned.length) {
    throw s3err('AccessDenied', 'There were headers present in the request which were not signed',
      { HeadersNotSigned: unsigned.join(', ') })
  }

  const credential = await o.lookup(p.accessKey)
  if (!credential) {
    throw s3err('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: p.accessKey })
  }
  const payloadHeader = first(r.headers, 'x-amz-content-sha256')
  const payloadHash = payloadHeader ?? (p.presigned ? UNSIGNED_PAYLOAD : bodilessHash(r.headers))
  const uri = canonicalUri(r.path)
  const query = canonicalQuery(r.query)
  if (uri === undefined || query === undefined) throw s3err('InvalidURI', "Couldn't parse the specified URI.")
  const canonical = canonicalRequest(r.method, uri, query, r.headers, p.signedHeaders, payloadHash)
  const scope = credentialScope(p.date, p.region, p.service)
  const sts = stringToSign(p.amzDate, scope, canonical)
  const key = signingKey(credential.secret, p.date, p.region, p.service)
  const expected = hmac(key, sts)
  const given = Buffer.from(p.signature, 'hex')
  if (given.length !== expected.length || p.signature.length !== 64 || !timingSafeEqual(given, expected)) {
    throw s3err('SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { AWSAccessKeyId: p.accessKey, StringToSign: sts, CanonicalRequest: canonical })
  }
  return { accessKey: p.accessKey, credential, payload: payloadMode(payloadHash, { signingKey: key, amzDate: p.amzDate, scope, seedSignature: p.signature }) }
}

/**
 * A header-signed request without x-amz-content-sha256 (allowed for generic SigV4 signers):
 * only verifiable when there is no body, whose hash is then the empty string's.
 */
function bodilessHash(headers: Map<string, string[]>): string {
  const length = first(headers, 'content-length')
  if ((length === undefined || length === '0') && !headers.has('transfer-encoding')) return EMPTY_SHA256
  throw s3err('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256')
}

function payloadMode(hash: string, signing: ChunkSigning): PayloadMode {
  switch (hash) {
    case UNSIGNED_PAYLOAD: return { kind: 'unsigned' }
    case STREAMING_SIGNED: return { kind: 'streaming', trailer: false, signing }
    case STREAMING_SIGNED_TRAILER: return { kind: 'streaming', trailer: true, signing }
    case STREAMING_UNSIGNED_TRAILER: return { kind: 'streaming', trailer: true }
  }
  if (/^[0-9a-f]{64}$/.test(hash)) return { kind: 'sha256', hex: hash }
  throw s3err('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    { ArgumentName: 'x-amz-content-sha256', ArgumentValue: hash })
}

function checkTime(p: Parsed, time: Date, o: VerifyOptions): void {
  const now = o.now.getTime()
  const skew = o.maxSkewMs ?? SKEW_MS
  if (p.presigned) {
    if (time.getTime() - now > skew) throw s3err('AccessDenied', 'Request is not valid yet')
    if (now > time.getTime() + p.expires! * 1000) {
      throw s3err('AccessDenied', 'Request has expired', { 'X-Amz-Expires': String(p.expires),
        Expires: new Date(time.getTime() + p.expires! * 1000).toISOString(), ServerTime: o.now.toISOString() })
    }
    return
  }
  if (Math.abs(now - time.getTime()) > skew) {
    throw s3err('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.',
      { RequestTime: p.amzDate, ServerTime: o.now.toISOString(), MaxAllowedSkewMilliseconds: String(skew) })
  }
}

/** Splits `AKID/20130524/us-east-1/s3/aws4_request`. */
function splitCredential(c: string, kind: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError') {
  const parts = c.split('/')
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !parts[0] || !/^\d{8}$/.test(parts[1]!)) {
    throw s3err(kind, `Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`)
  }
  return { accessKey: parts[0], date: parts[1]!, region: parts[2]!, service: parts[3]! }
}

function splitSignedHeaders(s: string): string[] {
  return s.split(';').map((h) => h.trim().toLowerCase()).filter(Boolean)
}

function parseHeader(authz: string, headers: Map<string, string[]>): Parsed {
  const kind = 'AuthorizationHeaderMalformed'
  if (authz.startsWith('AWS ')) throw s3err('InvalidRequest', UNSUPPORTED_MECHANISM)
  if (!authz.startsWith(`${ALGORITHM} `)) throw s3err(kind, 'The authorization header is malformed; unsupported algorithm')
  const fields = new Map<string, string>()
  for (const part of authz.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=')
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim())
  }
  const cred = fields.get('Credential')
  const signed = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  if (!cred || !signed || !signature) {
    throw s3err(kind, 'The authorization header is malformed; it must contain Credential, SignedHeaders and Signature')
  }
  let amzDate = first(headers, 'x-amz-date')
  if (amzDate === undefined) {
    // SigV4 allows the Date header instead; the string to sign then uses it in ISO basic form.
    const date = first(headers, 'date')
    const t = date === undefined ? NaN : Date.parse(date)
    if (Number.isNaN(t)) throw s3err('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header')
    amzDate = toAmzDate(new Date(t))
  }
  return { ...splitCredential(cred, kind), signedHeaders: splitSignedHeaders(signed), signature, amzDate, presigned: false }
}

function parseQueryAuth(q: Map<string, string>): Parsed {
  const kind = 'AuthorizationQueryParametersError'
  if (q.has('AWSAccessKeyId') && !q.has('X-Amz-Algorithm')) throw s3err('InvalidRequest', UNSUPPORTED_MECHANISM)
  const algorithm = q.get('X-Amz-Algorithm')
  if (algorithm !== ALGORITHM) throw s3err(kind, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
  const cred = q.get('X-Amz-Credential')
  const signed = q.get('X-Amz-SignedHeaders')
  const signature = q.get('X-Amz-Signature')
  const amzDate = q.get('X-Amz-Date')
  const expires = q.get('X-Amz-Expires')
  if (!cred || !signed || !signature || !amzDate || expires === undefined) {
    throw s3err(kind, 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.')
  }
  if (!/^\d+$/.test(expires) || Number(expires) < 1) throw s3err(kind, 'X-Amz-Expires should be a number')
  if (Number(expires) > MAX_PRESIGN_SECONDS) throw s3err(kind, 'X-Amz-Expires must be less than a week (in seconds) that is 604800')
  return { ...splitCredential(cred, kind), signedHeaders: splitSignedHeaders(signed), signature, amzDate,
    presigned: true, expires: Number(expires) }
}
