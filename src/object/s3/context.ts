// What every operation gets: the request, the parsed operation, who is asking, the storage port
// and the settings; plus the few response and header helpers the operations share.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { OwnerCache } from './access.ts'
import { s3err } from './errors.ts'
import type { S3Op } from './parse.ts'
import type { ObjectInfo, S3Storage, StoredHeaders } from './port.ts'
import type { CredentialLookup, PayloadMode, SigV4Auth } from './sigv4.ts'
import type { Owner } from './xml.ts'

/** Options of createS3Handler. */
export interface S3HandlerOptions {
  storage: S3Storage
  /** Access key → secret and project (Keystone's EC2 credentials: identity's findEc2Credential). */
  credentials: CredentialLookup
  /** The region served (default 'us-east-1'); signatures for it and for us-east-1 are accepted. */
  region?: string
  /** Enables virtual-host style: `<bucket>.<baseDomain>` (e.g. `s3.example.com`). */
  baseDomain?: string
  /** Smallest part but the last of a multipart upload (S3: 5 MiB). */
  minPartSize?: number
  /** Largest single PUT and largest part (S3: 5 GiB). */
  maxObjectSize?: number
  /** The reserved account holding the bucket-name registry (default '.s3'). */
  registryAccount?: string
  /** Clock (for signatures and dates). */
  now?: () => Date
  /** Where unexpected errors (500s) are reported. */
  logger?: { error(obj: object, msg?: string): void }
}

/** The options with their defaults applied. */
export interface S3Settings {
  storage: S3Storage
  credentials: CredentialLookup
  region: string
  regions: string[]
  baseDomain?: string
  minPartSize: number
  maxObjectSize: number
  registryAccount: string
  now: () => Date
  logger?: { error(obj: object, msg?: string): void }
  ownerCache: OwnerCache
}

/** Resolves the handler options. */
export function settingsOf(o: S3HandlerOptions): S3Settings {
  const region = o.region ?? 'us-east-1'
  const s: S3Settings = {
    storage: o.storage, credentials: o.credentials, region,
    regions: region === 'us-east-1' ? [region] : [region, 'us-east-1'],
    minPartSize: o.minPartSize ?? 5 * 1024 * 1024, maxObjectSize: o.maxObjectSize ?? 5 * 1024 ** 3,
    registryAccount: o.registryAccount ?? '.s3', now: o.now ?? (() => new Date()), ownerCache: new Map(),
  }
  if (o.baseDomain) s.baseDomain = o.baseDomain
  if (o.logger) s.logger = o.logger
  return s
}

/** One request in flight. */
export interface Ctx {
  req: IncomingMessage
  res: ServerResponse
  op: S3Op
  requestId: string
  /** The verified signature; undefined for an anonymous request. */
  auth?: SigV4Auth
  /** The requester's own account (`AUTH_<project_id>`), when authenticated. */
  account?: string
  /** How the body is to be verified (anonymous requests: unsigned). */
  payload: PayloadMode
  s: S3Settings
}

/** The Swift account of a project. */
export const accountOf = (projectId: string) => `AUTH_${projectId}`

/** The S3 owner of an account: its project id. */
export function ownerOf(account: string): Owner {
  const id = account.startsWith('AUTH_') ? account.slice(5) : account
  return { id, displayName: id }
}

/** A request header's (first) value. */
export function header(ctx: Ctx, name: string): string | undefined {
  const v = ctx.req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** Sends a complete response; HEAD answers carry the headers only. */
export function send(ctx: Ctx, status: number, body: string | Buffer | undefined, headers: Record<string, string> = {}): void {
  const res = ctx.res
  res.statusCode = status
  res.setHeader('x-amz-request-id', ctx.requestId)
  res.setHeader('x-amz-id-2', ctx.requestId)
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
  if (body === undefined || ctx.req.method === 'HEAD') {
    if (body === undefined && !res.hasHeader('content-length')) res.setHeader('content-length', '0')
    res.end()
    return
  }
  res.setHeader('content-length', Buffer.byteLength(body))
  res.end(body)
}

/** Sends an XML document. */
export function sendXml(ctx: Ctx, status: number, xml: string, headers: Record<string, string> = {}): void {
  send(ctx, status, xml, { 'content-type': 'application/xml', ...headers })
}

// Headers S3 stores with an object and returns with it (besides Content-Type).
const STORED = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires']
// Upload headers for features not served: refusing them beats silently not doing what they ask.
const UNSUPPORTED_UPLOAD = ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-tagging', 'x-amz-object-lock-mode',
  'x-amz-object-lock-retain-until-date', 'x-amz-object-lock-legal-hold', 'x-amz-website-redirect-location']
/** S3's limit on user metadata: 2 KB of names and values. */
const MAX_METADATA_BYTES = 2048

/** The object attributes an upload sets (PutObject, CreateMultipartUpload, CopyObject REPLACE). */
export interface UploadAttributes { contentType: string; metadata: Record<string, string>; headers: StoredHeaders }

/** Reads an upload's Content-Type, x-amz-meta-* and stored headers; refuses unsupported features. */
export function uploadAttributes(ctx: Ctx): UploadAttributes {
  const h = ctx.req.headers
  for (const name of UNSUPPORTED_UPLOAD) {
    if (h[name] !== undefined) throw s3err('NotImplemented', `The ${name} header is not implemented by this server.`)
  }
  const metadata: Record<string, string> = {}
  let size = 0
  for (const [k, v] of Object.entries(h)) {
    if (!k.startsWith('x-amz-meta-') || v === undefined) continue
    const name = k.slice(11)
    const value = Array.isArray(v) ? v.join(',') : v
    size += name.length + Buffer.byteLength(value)
    metadata[name] = value
  }
  if (size > MAX_METADATA_BYTES) {
    throw s3err('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', { MaxSizeAllowed: String(MAX_METADATA_BYTES) })
  }
  const headers: StoredHeaders = {}
  for (const name of STORED) {
    let v = header(ctx, name)
    // aws-chunked describes the transfer, not the object.
    if (name === 'content-encoding' && v !== undefined) {
      v = v.split(',').map((x) => x.trim()).filter((x) => x && x !== 'aws-chunked').join(', ')
      if (!v) continue
    }
    if (v !== undefined) headers[name] = v
  }
  return { contentType: header(ctx, 'content-type') || 'binary/octet-stream', metadata, headers }
}

/** Quotes an ETag for a header. */
export const quoteEtag = (etag: string) => `"${etag}"`

/** The response headers describing an object (GET/HEAD). */
export function objectHeaders(info: ObjectInfo): Record<string, string> {
  const h: Record<string, string> = {
    etag: quoteEtag(info.etag), 'last-modified': info.lastModified.toUTCString(),
    'content-type': info.contentType, 'accept-ranges': 'bytes',
  }
  for (const [k, v] of Object.entries(info.headers)) h[k] = v
  for (const [k, v] of Object.entries(info.metadata)) h[`x-amz-meta-${k}`] = v
  return h
}
