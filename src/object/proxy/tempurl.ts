// TempURL (Swift's swift/common/middleware/tempurl.py): a request signed with an account's or
// container's Temp-URL key (`?temp_url_sig=…&temp_url_expires=…`) is let through without a
// token until it expires — for the one method and object path (or object-name prefix) the
// HMAC covers. The request passed on is preauthorized; headers are cleaned both ways as
// Swift's defaults say, and GET/HEAD answers get a Content-Disposition and an Expires header.
import { SwiftError } from './errors.ts'
import { inIpRange } from './ip-range.ts'
import { type Middleware, discardAnswer } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { ALLOWED_DIGESTS, DEPRECATED_DIGESTS, type ScopedKey, VERSION_ENV, extractDigest, hmacHex, pyInt, pyQuote,
  sameString, tempUrlKeys } from './tempurl-sig.ts'

/** Methods a temp URL may be signed for (Swift's default `methods`). */
export const TEMPURL_METHODS: readonly string[] = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']
const INCOMING_REMOVE = ['x-timestamp', 'x-open-expired']
/** Headers a write may not carry: they would make the object a pointer to data the URL does not grant. */
const DISALLOWED_INCOMING = ['x-object-manifest', 'x-symlink-target']
const OUTGOING_REMOVE_PREFIX = 'x-object-meta-'
const OUTGOING_ALLOW_PREFIX = 'x-object-meta-public-'

/**
 * Key of `req.env` where a validated temp URL leaves Swift's `swift.authorize` override: a
 * check that subrequests made on the temp URL's behalf (segments of a manifest, the source
 * of a copy) stay in the signing key's scope (its account, or its container). It answers the
 * error to throw, or undefined when the subrequest is in scope.
 */
export const AUTHORIZE_ENV = 'swift.authorize'
/** The `swift.authorize` override's type. */
export type AuthorizeOverride = (req: SwiftRequest) => SwiftError | undefined
/** Key of `req.env` holding the client's address (Swift's REMOTE_ADDR), for temp_url_ip_range. */
export const REMOTE_ADDR_ENV = 'REMOTE_ADDR'

/** The temp URL fields of a query (Swift's get_temp_url_info). */
interface TempUrlQuery {
  sig: string | null
  expires: string | null
  prefix: string | null
  filename: string | null
  inline: boolean
  ipRange: string | null
}

/** What a valid signature grants. */
interface Grant { scope: ScopedKey['scope']; expires: number; obj: string }

/** The TempURL middleware. */
export function tempurl(): Middleware {
  return {
    name: 'tempurl',
    info: () => ({
      methods: [...TEMPURL_METHODS],
      incoming_remove_headers: [...INCOMING_REMOVE],
      incoming_allow_headers: [],
      outgoing_remove_headers: [`${OUTGOING_REMOVE_PREFIX}*`],
      outgoing_allow_headers: [`${OUTGOING_ALLOW_PREFIX}*`],
      allowed_digests: [...ALLOWED_DIGESTS],
      deprecated_digests: [...DEPRECATED_DIGESTS],
    }),
    wrap: (next, ctx) => async (req) => {
      const q = req.query
      if (req.method === 'OPTIONS' || (!q.has('temp_url_sig') && !q.has('temp_url_expires'))) return next(req)
      const t: TempUrlQuery = {
        sig: q.get('temp_url_sig'), expires: q.get('temp_url_expires'), prefix: q.get('temp_url_prefix'),
        filename: q.get('filename'), inline: q.has('inline'), ipRange: q.get('temp_url_ip_range'),
      }
      const grant = await verify(req, t, (c) => tempUrlKeys(ctx, req.account, c))
      const passed = authorizedRequest(req, t, grant)
      const answer = await next(passed)
      return outgoing(req, t, grant, answer)
    },
  }
}

/** Swift's 401 for a temp URL that is not valid (no body for HEAD). */
function invalid(req: SwiftRequest): SwiftError {
  const body = req.method === 'HEAD' ? Buffer.alloc(0) : Buffer.from('401 Unauthorized: Temp URL invalid\n')
  return new SwiftError(401, body, 'text/html; charset=UTF-8', { 'www-authenticate': `Swift realm="${pyQuote(req.account)}"` })
}

/** Swift's temp_url_expires: unix seconds or "%Y-%m-%dT%H:%M:%SZ"; 0 when unreadable or past. */
export function normalizeExpires(value: string, nowSeconds = Date.now() / 1000): bigint {
  let n = pyInt(value)
  if (n === undefined) {
    const m = /^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})Z$/.exec(value)
    if (m) {
      const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
      const day = new Date(Date.UTC(y, mo - 1, d))
      if (mo >= 1 && mo <= 12 && day.getUTCMonth() === mo - 1 && h < 24 && mi < 60 && s < 62) {
        n = BigInt(Date.UTC(y, mo - 1, d, h, mi, s) / 1000)
      }
    }
  }
  return n === undefined || Number(n) < nowSeconds ? 0n : n
}

/** Checks the signature (Swift's TempURL.__call__ up to the HMAC match); throws 401 when it is not valid. */
async function verify(req: SwiftRequest, t: TempUrlQuery, keysOf: (container: string) => Promise<ScopedKey[]>): Promise<Grant> {
  const expires = t.expires === null ? 0n : normalizeExpires(t.expires)
  if (!t.sig || !expires) throw invalid(req)
  const digest = extractDigest(t.sig)
  if (!digest || !ALLOWED_DIGESTS.includes(digest.algo)) throw invalid(req)
  // An object path and a method a temp URL may carry; the container's root only for a GET or
  // HEAD with an empty prefix (a static web listing; answered 401 below unless staticweb serves it).
  const rootAllowed = (req.method === 'GET' || req.method === 'HEAD') && t.prefix === ''
  const obj = req.obj ?? ''
  // Only /v1 paths (app.ts records the path's version; /v1.0 is not a temp URL path in Swift).
  const version = req.env?.get(VERSION_ENV)
  if (!TEMPURL_METHODS.includes(req.method) || req.container === undefined || (version !== undefined && version !== 'v1')) {
    throw invalid(req)
  }
  if (!rootAllowed && obj.replace(/^\/+|\/+$/g, '') === '') throw invalid(req)
  if (t.ipRange) {
    const addr = req.env?.get(REMOTE_ADDR_ENV)
    if (typeof addr !== 'string' || !inIpRange(addr, t.ipRange)) throw invalid(req)
  }
  const keys = await keysOf(req.container)
  if (!keys.length) throw invalid(req)
  let path: string
  if (t.prefix === null) path = `/v1/${req.account}/${req.container}/${obj}`
  else {
    if (!obj.startsWith(t.prefix)) throw invalid(req)
    path = `prefix:/v1/${req.account}/${req.container}/${t.prefix}`
  }
  // A HEAD is allowed by a URL signed for HEAD, GET, POST or PUT.
  const methods = req.method === 'HEAD' ? ['HEAD', 'GET', 'POST', 'PUT'] : [req.method]
  const ip = t.ipRange ? `ip=${t.ipRange}\n` : ''
  for (const method of methods) {
    for (const k of keys) {
      if (sameString(digest.hex, hmacHex(digest.algo, k.key, `${ip}${method}\n${expires}\n${path}`))) {
        return { scope: k.scope, expires: Number(expires), obj }
      }
    }
  }
  throw invalid(req)
}

/** Whether a request stays within what the signing key grants (Swift's authorize_same_account/container). */
function inScope(req: SwiftRequest, account: string, container: string, scope: Grant['scope']): boolean {
  return req.account === account && (scope === 'account' || req.container === container)
}

/** The request passed on: preauthorized, cleaned of headers a temp URL may not set, query reduced to the temp URL's. */
function authorizedRequest(req: SwiftRequest, t: TempUrlQuery, g: Grant): SwiftRequest {
  const writes = req.method !== 'GET' && req.method !== 'HEAD'
  const headers: Record<string, string> = {}
  for (const k in req.headers) {
    if (writes && DISALLOWED_INCOMING.includes(k)) {
      const title = k.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase())
      throw new SwiftError(400, Buffer.from(`The header '${title}' is not allowed in this tempurl`), 'text/html; charset=UTF-8')
    }
    if (!INCOMING_REMOVE.includes(k)) headers[k] = req.headers[k]
  }
  if (req.method === 'PUT' && headers['x-copy-from'] !== undefined) checkCopySource(req, headers, t, g)
  const query = new URLSearchParams({ temp_url_sig: t.sig!, temp_url_expires: t.expires! })
  if (t.prefix !== null) query.set('temp_url_prefix', t.prefix)
  if (t.filename) query.set('filename', t.filename)
  if (t.inline) query.set('inline', '')
  const env = req.env ?? new Map<string, unknown>()
  const { account, container } = req
  const authorize: AuthorizeOverride = (r) => inScope(r, account, container!, g.scope)
    ? undefined : SwiftError.status(401, { 'www-authenticate': `Swift realm="${pyQuote(r.account)}"` })
  env.set(AUTHORIZE_ENV, authorize)
  return { ...req, headers, query, env, preauthorized: true }
}

/**
 * A temp URL PUT may copy (X-Copy-From) only from what its signature covers: the same object,
 * or an object under its prefix. Anything else would let the URL read objects it was never
 * signed for; it is refused as Swift refuses a source its authorize override rejects (401).
 */
function checkCopySource(req: SwiftRequest, headers: Record<string, string>, t: TempUrlQuery, g: Grant): void {
  const decode = (v: string) => { try { return decodeURIComponent(v) } catch { return v } }
  const account = headers['x-copy-from-account'] === undefined ? req.account : decode(headers['x-copy-from-account'])
  let src = decode(headers['x-copy-from']!)
  if (src.startsWith('/')) src = src.slice(1)
  const slash = src.indexOf('/')
  // A malformed source is left to the copy to refuse (412).
  if (slash <= 0 || slash === src.length - 1) return
  const container = src.slice(0, slash)
  const obj = src.slice(slash + 1)
  const covered = t.prefix === null ? obj === g.obj : obj.startsWith(t.prefix)
  if (account !== req.account || container !== req.container || !covered) {
    throw SwiftError.status(401, { 'www-authenticate': `Swift realm="${pyQuote(req.account)}"` })
  }
}

/** Swift's disposition_format (RFC 6266 with an RFC 5987 UTF-8 filename). */
function disposition(type: string, filename: string): string {
  return `${type}; filename="${pyQuote(filename, ' /')}"; filename*=UTF-8''${pyQuote(filename)}`
}

/** The answer for the client: metadata headers removed (but public ones), disposition and expiry on GET/HEAD. */
function outgoing(req: SwiftRequest, t: TempUrlQuery, g: Grant, answer: ClientAnswer): ClientAnswer {
  const headers: Record<string, string> = {}
  for (const k in answer.headers) {
    if (k.startsWith(OUTGOING_REMOVE_PREFIX) && !k.startsWith(OUTGOING_ALLOW_PREFIX)) continue
    headers[k] = answer.headers[k]
  }
  const generator = headers['x-backend-content-generator']
  delete headers['x-backend-content-generator']
  if ((req.method !== 'GET' && req.method !== 'HEAD') || answer.status < 200 || answer.status > 299) {
    return { ...answer, headers }
  }
  let inline = t.inline
  if (generator === 'staticweb') inline = true
  else if (g.obj === '') {
    // The container root was let through for a static web listing, and this is not one.
    discardAnswer(answer)
    throw invalid(req)
  }
  const existing = headers['content-disposition']
  let value: string
  if (inline) value = t.filename ? disposition('inline', t.filename) : 'inline'
  else if (t.filename) value = disposition('attachment', t.filename)
  else if (existing) value = existing
  else {
    const path = `/v1/${req.account}/${req.container}/${g.obj}`.replace(/\/+$/, '')
    value = disposition('attachment', path.slice(path.lastIndexOf('/') + 1))
  }
  headers['content-disposition'] = value.replaceAll('\n', '%0A')
  const expires = new Date(g.expires * 1000)
  if (Number.isFinite(expires.getTime())) headers.expires = expires.toUTCString()
  return { ...answer, headers }
}
