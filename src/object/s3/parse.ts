// Request → operation: every S3 request is turned into one `S3Op` before any work is done (as
// Garage does), from the method, the bucket (virtual-host or path style), the key, the
// sub-resource query parameters and the few headers that select an operation
// (x-amz-copy-source). Operations this server does not implement are NotImplemented (501)
// with the operation named; malformed parameters are InvalidArgument, as S3 answers them.
import { s3err } from './errors.ts'

/** A source object of CopyObject / UploadPartCopy (x-amz-copy-source). */
export interface CopySource { bucket: string; key: string; versionId?: string }

/** Response header overrides of GetObject (response-content-type=... and friends). */
export type ResponseOverrides = Record<string, string>

/** One member per kind (a union of kinds spread into separate members, so Extract<> works). */
type Each<K extends string, T> = K extends string ? { kind: K } & T : never

/** Every operation the S3 layer serves. */
export type S3Op =
  | { kind: 'ListBuckets' }
  | { kind: 'CreateBucket'; bucket: string }
  | { kind: 'HeadBucket'; bucket: string }
  | { kind: 'DeleteBucket'; bucket: string }
  | { kind: 'GetBucketLocation'; bucket: string }
  | { kind: 'ListObjects'; bucket: string; prefix: string; delimiter?: string; marker: string; maxKeys: number;
      encodingType?: 'url' }
  | { kind: 'ListObjectsV2'; bucket: string; prefix: string; delimiter?: string; continuationToken?: string;
      startAfter?: string; maxKeys: number; fetchOwner: boolean; encodingType?: 'url' }
  | { kind: 'ListObjectVersions'; bucket: string; prefix: string; delimiter?: string; keyMarker: string;
      versionIdMarker: string; maxKeys: number; encodingType?: 'url' }
  | { kind: 'ListMultipartUploads'; bucket: string; prefix: string; delimiter?: string; keyMarker: string;
      uploadIdMarker: string; maxUploads: number; encodingType?: 'url' }
  | Each<'GetBucketAcl' | 'PutBucketAcl' | 'GetBucketCors' | 'PutBucketCors' | 'DeleteBucketCors' |
      'GetBucketVersioning' | 'PutBucketVersioning' | 'DeleteObjects', { bucket: string }>
  | { kind: 'PutObject'; bucket: string; key: string }
  | { kind: 'CopyObject'; bucket: string; key: string; source: CopySource }
  | Each<'GetObject' | 'HeadObject', { bucket: string; key: string; versionId?: string; overrides: ResponseOverrides }>
  | { kind: 'DeleteObject'; bucket: string; key: string; versionId?: string }
  | Each<'GetObjectAcl' | 'PutObjectAcl', { bucket: string; key: string }>
  | { kind: 'CreateMultipartUpload'; bucket: string; key: string }
  | { kind: 'UploadPart'; bucket: string; key: string; uploadId: string; partNumber: number }
  | { kind: 'UploadPartCopy'; bucket: string; key: string; uploadId: string; partNumber: number; source: CopySource;
      sourceRange?: { first: number; last: number } }
  | Each<'CompleteMultipartUpload' | 'AbortMultipartUpload', { bucket: string; key: string; uploadId: string }>
  | { kind: 'ListParts'; bucket: string; key: string; uploadId: string; maxParts: number; partNumberMarker: number }
  | { kind: 'CorsPreflight'; bucket: string; key?: string }

/** The kinds of S3Op. */
export type S3OpKind = S3Op['kind']

/** What parsing needs of a request. `path` and `query` are raw (percent-encoded) as on the wire. */
export interface S3RequestLine {
  method: string
  host?: string
  path: string
  query: string
  /** The query already parsed (parseQuery), to avoid parsing it twice. */
  params?: Map<string, string>
  headers: Record<string, string | undefined>
}

/** Options of parseS3Request. */
export interface ParseOptions {
  /** Virtual-host style: a Host of `<bucket>.<baseDomain>` names the bucket (e.g. `s3.example.com`). */
  baseDomain?: string
}

/** Longest key S3 accepts, in UTF-8 bytes (also Swift's object name limit). */
export const MAX_KEY_BYTES = 1024

// Sub-resources S3 has and this server does not (yet) serve: named in the 501 message.
const BUCKET_UNSUPPORTED = ['policy', 'policyStatus', 'lifecycle', 'tagging', 'website', 'logging', 'notification',
  'replication', 'encryption', 'accelerate', 'requestPayment', 'object-lock', 'ownershipControls',
  'publicAccessBlock', 'analytics', 'metrics', 'inventory', 'intelligent-tiering']
const OBJECT_UNSUPPORTED = ['tagging', 'retention', 'legal-hold', 'torrent', 'attributes', 'restore', 'select']
const OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type', 'response-content-language': 'content-language',
  'response-expires': 'expires', 'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition', 'response-content-encoding': 'content-encoding',
}

/** Percent-decodes; '+' is a space in a query (form encoding), literal in a path. */
export function decode(s: string, isQuery: boolean): string {
  try {
    return decodeURIComponent(isQuery ? s.replace(/\+/g, ' ') : s)
  } catch {
    throw s3err('InvalidURI', "Couldn't parse the specified URI.")
  }
}

/** Parses a raw query string; the first value of a repeated name wins. Names without '=' map to ''. */
export function parseQuery(raw: string): Map<string, string> {
  const q = new Map<string, string>()
  if (!raw) return q
  for (const part of raw.split('&')) {
    if (!part) continue
    const eq = part.indexOf('=')
    const k = decode(eq < 0 ? part : part.slice(0, eq), true)
    if (!q.has(k)) q.set(k, eq < 0 ? '' : decode(part.slice(eq + 1), true))
  }
  return q
}

function intParam(q: Map<string, string>, name: string, dflt: number, min: number, max: number, message?: string): number {
  const v = q.get(name)
  if (v === undefined) return dflt
  if (!/^-?\d+$/.test(v) || Number(v) < min) {
    throw s3err('InvalidArgument', message ?? `Provided ${name} not an integer or within integer range`,
      { ArgumentName: name, ArgumentValue: v })
  }
  return Math.min(Number(v), max)
}

function encodingType(q: Map<string, string>): 'url' | undefined {
  const v = q.get('encoding-type')
  if (v === undefined) return undefined
  if (v.toLowerCase() !== 'url') {
    throw s3err('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: v })
  }
  return 'url'
}

function partNumber(q: Map<string, string>): number {
  const v = q.get('partNumber') ?? ''
  if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 10000) {
    throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive',
      { ArgumentName: 'partNumber', ArgumentValue: v })
  }
  return Number(v)
}

/** Parses x-amz-copy-source: `[/]bucket/key[?versionId=id]`, percent-encoded. */
export function parseCopySource(raw: string): CopySource {
  let value = raw
  let versionId: string | undefined
  const qi = value.indexOf('?')
  if (qi >= 0) {
    const q = parseQuery(value.slice(qi + 1))
    versionId = q.get('versionId')
    value = value.slice(0, qi)
  }
  const path = decode(value, false).replace(/^\//, '')
  const slash = path.indexOf('/')
  if (slash <= 0 || slash === path.length - 1) {
    throw s3err('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      { ArgumentName: 'x-amz-copy-source', ArgumentValue: raw })
  }
  const source: CopySource = { bucket: checkBucketChars(path.slice(0, slash)), key: checkKey(path.slice(slash + 1)) }
  if (versionId !== undefined) source.versionId = versionId
  return source
}

function parseSourceRange(v: string | undefined): { first: number; last: number } | undefined {
  if (v === undefined) return undefined
  const m = /^bytes=(\d+)-(\d+)$/.exec(v.trim())
  if (!m || Number(m[2]) < Number(m[1])) {
    throw s3err('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: v })
  }
  return { first: Number(m[1]), last: Number(m[2]) }
}

/**
 * Any name a bucket can be addressed by: S3's legacy rules (letters, digits, '.', '-', '_'),
 * so no request can reach a container S3 doesn't own (e.g. `<bucket>+segments`). Creation
 * applies the strict rules (names.ts).
 */
function checkBucketChars(b: string): string {
  if (!/^[A-Za-z0-9._-]{1,255}$/.test(b)) throw s3err('InvalidBucketName', 'The specified bucket is not valid.', { BucketName: b })
  return b
}

function checkKey(k: string): string {
  if (Buffer.byteLength(k) > MAX_KEY_BYTES) throw s3err('KeyTooLongError', 'Your key is too long', { MaxSizeAllowed: String(MAX_KEY_BYTES) })
  if (k.includes('\u0000')) throw s3err('InvalidArgument', 'Object key must not contain a NUL character')
  return k
}

/** Splits host or path into bucket and key (key undefined: a bucket or service request). */
function locate(r: S3RequestLine, o: ParseOptions): { bucket?: string; key?: string } {
  const host = (r.host ?? '').toLowerCase().replace(/:\d+$/, '')
  const base = o.baseDomain?.toLowerCase()
  const path = r.path.startsWith('/') ? r.path.slice(1) : r.path
  if (base && host.endsWith(`.${base}`)) {
    const bucket = host.slice(0, -base.length - 1)
    return path ? { bucket, key: decode(path, false) } : { bucket }
  }
  if (!path) return {}
  const slash = path.indexOf('/')
  if (slash < 0) return { bucket: decode(path, false) }
  const key = path.slice(slash + 1)
  return key ? { bucket: decode(path.slice(0, slash), false), key: decode(key, false) }
    : { bucket: decode(path.slice(0, slash), false) }
}

const notImpl = (what: string) => s3err('NotImplemented', `${what} is not implemented by this server.`)

/** Turns a request into its operation, or throws the S3Error S3 would answer. */
export function parseS3Request(r: S3RequestLine, options: ParseOptions = {}): S3Op {
  const method = r.method.toUpperCase()
  const q = r.params ?? parseQuery(r.query)
  const { bucket: rawBucket, key: rawKey } = locate(r, options)
  if (rawBucket === undefined) {
    if (method === 'GET') return { kind: 'ListBuckets' }
    throw s3err('MethodNotAllowed', 'The specified method is not allowed against this resource.',
      { Method: method, ResourceType: 'SERVICE' })
  }
  const bucket = checkBucketChars(rawBucket)
  if (rawKey === undefined) return bucketOp(method, bucket, q)
  return objectOp(method, bucket, checkKey(rawKey), q, r.headers)
}

function bucketOp(method: string, bucket: string, q: Map<string, string>): S3Op {
  const unsupported = BUCKET_UNSUPPORTED.find((s) => q.has(s))
  if (unsupported && method !== 'OPTIONS') throw notImpl(`The bucket ${unsupported} sub-resource (${method} ?${unsupported})`)
  switch (method) {
    case 'GET':
      if (q.has('acl')) return { kind: 'GetBucketAcl', bucket }
      if (q.has('cors')) return { kind: 'GetBucketCors', bucket }
      if (q.has('versioning')) return { kind: 'GetBucketVersioning', bucket }
      if (q.has('location')) return { kind: 'GetBucketLocation', bucket }
      if (q.has('uploads')) {
        return { kind: 'ListMultipartUploads', bucket, prefix: q.get('prefix') ?? '', ...delimiter(q),
          keyMarker: q.get('key-marker') ?? '', uploadIdMarker: q.get('upload-id-marker') ?? '',
          maxUploads: intParam(q, 'max-uploads', 1000, 0, 1000), ...enc(q) }
      }
      if (q.has('versions')) {
        return { kind: 'ListObjectVersions', bucket, prefix: q.get('prefix') ?? '', ...delimiter(q),
          keyMarker: q.get('key-marker') ?? '', versionIdMarker: q.get('version-id-marker') ?? '',
          maxKeys: intParam(q, 'max-keys', 1000, 0, 1000), ...enc(q) }
      }
      if (q.has('list-type')) {
        if (q.get('list-type') !== '2') {
          throw s3err('InvalidArgument', 'Invalid List Type specified in Request', { ArgumentName: 'list-type', ArgumentValue: q.get('list-type')! })
        }
        const op: S3Op = { kind: 'ListObjectsV2', bucket, prefix: q.get('prefix') ?? '', ...delimiter(q),
          maxKeys: intParam(q, 'max-keys', 1000, 0, 1000), fetchOwner: q.get('fetch-owner') === 'true', ...enc(q) }
        const token = q.get('continuation-token')
        if (token !== undefined) op.continuationToken = token
        const startAfter = q.get('start-after')
        if (startAfter !== undefined) op.startAfter = startAfter
        return op
      }
      return { kind: 'ListObjects', bucket, prefix: q.get('prefix') ?? '', ...delimiter(q), marker: q.get('marker') ?? '',
        maxKeys: intParam(q, 'max-keys', 1000, 0, 1000), ...enc(q) }
    case 'HEAD':
      return { kind: 'HeadBucket', bucket }
    case 'PUT':
      if (q.has('acl')) return { kind: 'PutBucketAcl', bucket }
      if (q.has('cors')) return { kind: 'PutBucketCors', bucket }
      if (q.has('versioning')) return { kind: 'PutBucketVersioning', bucket }
      return { kind: 'CreateBucket', bucket }
    case 'DELETE':
      if (q.has('cors')) return { kind: 'DeleteBucketCors', bucket }
      return { kind: 'DeleteBucket', bucket }
    case 'POST':
      if (q.has('delete')) return { kind: 'DeleteObjects', bucket }
      throw notImpl('POST on a bucket (browser-based form uploads)')
    case 'OPTIONS':
      return { kind: 'CorsPreflight', bucket }
  }
  throw s3err('MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: method, ResourceType: 'BUCKET' })
}

function objectOp(method: string, bucket: string, key: string, q: Map<string, string>,
                  headers: Record<string, string | undefined>): S3Op {
  const unsupported = OBJECT_UNSUPPORTED.find((s) => q.has(s))
  if (unsupported && method !== 'OPTIONS') throw notImpl(`The object ${unsupported} sub-resource (${method} ?${unsupported})`)
  const copySource = headers['x-amz-copy-source']
  switch (method) {
    case 'GET':
    case 'HEAD': {
      if (q.has('acl') && method === 'GET') return { kind: 'GetObjectAcl', bucket, key }
      if (q.has('uploadId') && method === 'GET') {
        return { kind: 'ListParts', bucket, key, uploadId: q.get('uploadId')!,
          maxParts: intParam(q, 'max-parts', 1000, 0, 1000),
          partNumberMarker: intParam(q, 'part-number-marker', 0, 0, 10000) }
      }
      if (q.has('partNumber')) throw notImpl('Reading one part of an object (?partNumber)')
      const overrides: ResponseOverrides = {}
      for (const [param, header] of Object.entries(OVERRIDES)) {
        const v = q.get(param)
        if (v !== undefined) overrides[header] = v
      }
      const versionId = q.get('versionId')
      return { kind: method === 'GET' ? 'GetObject' : 'HeadObject', bucket, key, overrides,
        ...(versionId !== undefined ? { versionId } : {}) }
    }
    case 'PUT':
      if (q.has('acl')) return { kind: 'PutObjectAcl', bucket, key }
      if (q.has('uploadId') || q.has('partNumber')) {
        const uploadId = q.get('uploadId')
        if (!uploadId) throw s3err('InvalidArgument', 'An uploadId is required with partNumber', { ArgumentName: 'uploadId', ArgumentValue: '' })
        const pn = partNumber(q)
        if (copySource !== undefined) {
          const op: S3Op = { kind: 'UploadPartCopy', bucket, key, uploadId, partNumber: pn, source: parseCopySource(copySource) }
          const range = parseSourceRange(headers['x-amz-copy-source-range'])
          if (range) op.sourceRange = range
          return op
        }
        return { kind: 'UploadPart', bucket, key, uploadId, partNumber: pn }
      }
      if (copySource !== undefined) return { kind: 'CopyObject', bucket, key, source: parseCopySource(copySource) }
      return { kind: 'PutObject', bucket, key }
    case 'POST':
      if (q.has('uploads')) return { kind: 'CreateMultipartUpload', bucket, key }
      if (q.has('uploadId')) return { kind: 'CompleteMultipartUpload', bucket, key, uploadId: q.get('uploadId')! }
      throw notImpl('POST on an object without ?uploads or ?uploadId')
    case 'DELETE': {
      if (q.has('uploadId')) return { kind: 'AbortMultipartUpload', bucket, key, uploadId: q.get('uploadId')! }
      const op: S3Op = { kind: 'DeleteObject', bucket, key }
      if (q.has('versionId')) op.versionId = q.get('versionId')!
      return op
    }
    case 'OPTIONS':
      return { kind: 'CorsPreflight', bucket, key }
  }
  throw s3err('MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: method, ResourceType: 'OBJECT' })
}

function delimiter(q: Map<string, string>): { delimiter?: string } {
  const d = q.get('delimiter')
  return d ? { delimiter: d } : {}
}

function enc(q: Map<string, string>): { encodingType?: 'url' } {
  const e = encodingType(q)
  return e ? { encodingType: e } : {}
}
