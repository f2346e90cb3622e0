// The Swift request as the controllers see it: the path split as Swift's split_path, the
// client's headers after the gatekeeper (clients may not send backend or sysmeta headers), and
// helpers to answer through Fastify with Swift's headers.
import type { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import type { SwiftIdentity } from './acl.ts'
import { SwiftError } from './errors.ts'

/** A parsed Swift API request. */
export interface SwiftRequest {
  method: string
  account: string
  container?: string
  obj?: string
  query: URLSearchParams
  /** Lower-case client headers, gatekeeper-filtered. */
  headers: Record<string, string>
  /** The request body stream, when the request has one. */
  body?: Readable
  /** The caller; undefined for an anonymous request. */
  identity?: SwiftIdentity
  /** Request id, sent back as X-Trans-Id. */
  id: string
  /** Set by authorization: the caller owns the account (may see and set ACLs). */
  owner: boolean
  /** The middleware that made this request (Swift's swift_source); undefined for client requests. */
  source?: string
  /**
   * Authorized by a middleware (tempurl, formpost; Swift's swift.authorize_override): the
   * controllers let it through without checking the caller.
   */
  preauthorized?: boolean
  /** Per-request state shared by the middlewares and their subrequests (Swift's environ keys). */
  env?: Map<string, unknown>
}

/** What a controller answers: status, headers (for the client), optional body. */
export interface ClientAnswer {
  status: number
  headers: Record<string, string>
  body?: Buffer | Readable
}

/** The path parts of a /v1 URL (Swift's split_path(1, 4, rest_with_last)); empty parts are undefined. */
export interface SwiftPath { version: string; account?: string; container?: string; obj?: string }

/** The decoded path of a raw URL ("/v1/AUTH_x/c/o%20b" → "/v1/AUTH_x/c/o b"); 412 for invalid UTF-8 or NUL. */
export function decodedPath(rawUrl: string): string {
  const q = rawUrl.indexOf('?')
  const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q)
  // node:http hands over raw non-ASCII bytes as latin-1 characters: read them back as UTF-8.
  const utf8Path = /[^\x00-\x7f]/.test(rawPath) ? Buffer.from(rawPath, 'latin1').toString('utf8') : rawPath
  let path: string
  try { path = decodeURIComponent(utf8Path) } catch { throw SwiftError.text(412, 'Invalid UTF8 or contains NULL') }
  if (path.includes('\0')) throw SwiftError.text(412, 'Invalid UTF8 or contains NULL')
  return path
}

/** Splits and decodes a raw URL path ("/v1/AUTH_x/c/o%20b"); 412 for invalid UTF-8 or NUL. */
export function parsePath(rawUrl: string): { path: SwiftPath; query: URLSearchParams } {
  const q = rawUrl.indexOf('?')
  const path = decodedPath(rawUrl)
  const segs = path.slice(1).split('/')
  const parts = segs.length > 4 ? [...segs.slice(0, 3), segs.slice(3).join('/')] : segs
  const opt = (s: string | undefined) => (s === undefined || s === '' ? undefined : s)
  return {
    path: { version: parts[0] ?? '', account: opt(parts[1]), container: opt(parts[2]), obj: opt(parts[3]) },
    query: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)),
  }
}

const SYSMETA = /^x-(account|container|object)-sysmeta-|^x-object-transient-sysmeta-|^x-backend-/

/**
 * Swift's gatekeeper: clients cannot send headers reserved for the cluster (sysmeta, backend
 * headers), nor hop-by-hop ones the proxy sets per backend request.
 */
export function clientHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw in h) {
    const v = h[raw]
    // A WSGI server (Swift's) sees header names with '_' as '-': X-Container-Meta-a_b is a-b.
    const k = raw.includes('_') ? raw.replaceAll('_', '-') : raw
    if (v === undefined || SYSMETA.test(k)) continue
    if (k === 'connection' || k === 'keep-alive' || k === 'host' || k === 'expect' || k === 'x-auth-token' || k === 'te') continue
    out[k] = Array.isArray(v) ? v.join(',') : v
  }
  return out
}

/** Headers only an account's owner sees or sets (Swift's swift_owner_headers). */
export const OWNER_HEADERS = new Set([
  'x-container-read', 'x-container-write', 'x-container-sync-key', 'x-container-sync-to',
  'x-account-meta-temp-url-key', 'x-account-meta-temp-url-key-2', 'x-container-meta-temp-url-key',
  'x-container-meta-temp-url-key-2', 'x-account-access-control',
])

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'server'])

/** Backend response headers a client may see: no backend/sysmeta headers, owner-only ones for owners. */
export function responseHeaders(h: Record<string, string>, owner: boolean): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k in h) {
    if (HOP.has(k) || SYSMETA.test(k)) continue
    if (!owner && OWNER_HEADERS.has(k)) continue
    out[k] = h[k]
  }
  return out
}

/** Sends an answer through Fastify: headers, then a Buffer or a streamed body (none for HEAD). */
export function send(reply: FastifyReply, req: SwiftRequest, status: number, headers: Record<string, string>,
                     body?: Buffer | Readable): FastifyReply {
  reply.code(status)
  reply.header('x-trans-id', req.id)
  for (const k in headers) reply.header(k, headers[k])
  if (req.method === 'HEAD' || status === 204 || status === 304) {
    if (body && typeof (body as Readable).destroy === 'function' && !Buffer.isBuffer(body)) (body as Readable).destroy()
    return reply.send()
  }
  if (body === undefined) {
    reply.header('content-length', '0')
    return reply.send()
  }
  if (Buffer.isBuffer(body)) reply.header('content-length', String(body.length))
  return reply.send(body)
}

/** Sends a SwiftError. */
export function sendError(reply: FastifyReply, req: SwiftRequest, err: SwiftError): FastifyReply {
  return send(reply, req, err.status, { 'content-type': err.contentType, ...err.headers }, err.body)
}
