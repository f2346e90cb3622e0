// The storage servers' backend protocol (docs/object-storage.md, "Backend protocol"): every
// account, container and object server is a BackendHandler. In one process the proxy calls the
// handler directly; across hosts `serveBackend` puts it on plain node:http (the data plane, so no
// framework) and `callBackend` reaches it over keep-alive HTTP. Both paths carry the same
// request and response shapes, so a server behaves the same in-process and remotely.
import http from 'node:http'
import { Readable, pipeline } from 'node:stream'

/**
 * One request to a storage server. Header names are lower-case (as node:http delivers them);
 * `path` is percent-encoded exactly as on the wire, without the query string.
 */
export interface BackendRequest {
  method: string
  path: string
  query: URLSearchParams
  headers: Record<string, string>
  body?: Readable
}

/**
 * A storage server's answer; header names are lower-case. A Readable body is streamed: if it
 * fails part-way the transfer is aborted (the socket is destroyed), so a client never takes a
 * short or corrupt body for a good one. The receiver must consume or destroy a Readable body.
 */
export interface BackendResponse {
  status: number
  headers: Record<string, string>
  body?: Readable | Buffer
}

/** A storage server: account, container or object. */
export type BackendHandler = (req: BackendRequest) => Promise<BackendResponse>

/** Minimal logger (pino-compatible) the storage layer reports to. */
export interface StorageLogger {
  error(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  debug(obj: object, msg?: string): void
}

/** Options for `serveBackend`. */
export interface ServeBackendOptions {
  host: string
  /** 0 picks a free port (see `BackendServer.port`). */
  port: number
  logger?: StorageLogger
  /** Idle time on a connection (request body or response) before it is dropped; Swift's client_timeout. Default 60 s. */
  clientTimeoutMs?: number
  /** How long an idle keep-alive connection is kept. Default 75 s (longer than callers' pools keep them). */
  keepAliveTimeoutMs?: number
}

/** A running backend HTTP server. */
export interface BackendServer {
  readonly server: http.Server
  readonly host: string
  readonly port: number
  /** `http://host:port`, what `callBackend` takes. */
  readonly url: string
  close(): Promise<void>
}

/** Carries a method node's HTTP parser does not know (REPLICATE, UPDATE) inside a POST. */
const TUNNEL_HEADER = 'x-backend-method'
const NATIVE_METHODS = new Set(http.METHODS)

/** Unread request bodies up to this size are drained to keep the connection; larger ones close it. */
const UNREAD_DRAIN_LIMIT = 256 * 1024

/** Copies node's header object to a plain string map (repeated headers joined as node does). */
function flatHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k in h) {
    const v = h[k]
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
  }
  return out
}

/** Lower-cases header names (in-process callers may use any case); returns the input when already lower. */
export function lowerHeaders(h: Record<string, string>): Record<string, string> {
  for (const k in h) {
    if (k !== k.toLowerCase()) {
      const out: Record<string, string> = {}
      for (const key in h) out[key.toLowerCase()] = h[key]
      return out
    }
  }
  return h
}

/** Writes a BackendResponse to a node:http response, streaming a Readable body with backpressure. */
function sendResponse(res: http.ServerResponse, r: BackendResponse, method: string): void {
  const body = r.body
  if (Buffer.isBuffer(body)) {
    if (r.headers['content-length'] === undefined) r.headers['content-length'] = String(body.length)
    res.writeHead(r.status, r.headers)
    res.end(method === 'HEAD' ? undefined : body)
  } else if (body) {
    res.writeHead(r.status, r.headers)
    if (method === 'HEAD') {
      body.destroy()
      res.end()
      return
    }
    // pipeline destroys both sides on failure: a body error aborts the transfer mid-way.
    pipeline(body, res, () => {})
  } else {
    if (r.headers['content-length'] === undefined && r.status !== 204 && r.status !== 304 && method !== 'HEAD') {
      r.headers['content-length'] = '0'
    }
    res.writeHead(r.status, r.headers)
    res.end()
  }
}

/** Serves a BackendHandler over plain node:http with keep-alive. Resolves once listening. */
export async function serveBackend(handler: BackendHandler, opts: ServeBackendOptions): Promise<BackendServer> {
  const log = opts.logger
  const server = http.createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const headers = flatHeaders(req.headers)
    let method = req.method ?? 'GET'
    // Swift's own verbs (REPLICATE, UPDATE) are not in node's HTTP parser: they arrive
    // tunnelled as POST with x-backend-method (see callBackend).
    const tunnelled = method === 'POST' ? headers[TUNNEL_HEADER] : undefined
    if (tunnelled) { method = tunnelled.toUpperCase(); delete headers[TUNNEL_HEADER] }
    // Only hand over a body when one was announced, so GETs cannot hang waiting on it.
    const hasBody = headers['transfer-encoding'] !== undefined ||
      (headers['content-length'] !== undefined && headers['content-length'] !== '0')
    const breq: BackendRequest = {
      method,
      path: q < 0 ? url : url.slice(0, q),
      query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
      headers,
      body: hasBody ? req : undefined,
    }
    handler(breq).then((r) => {
      try {
        // An answer given before the body was read (409, 507, …): rather than reading and
        // discarding what may be gigabytes, close the connection after the response.
        if (hasBody && !req.complete && !(Number(headers['content-length']) <= UNREAD_DRAIN_LIMIT)) r.headers.connection = 'close'
        sendResponse(res, r, method)
      } catch (err) {
        // Only reachable through a bad header value: a bug, reported as such.
        log?.error({ err, method, path: breq.path }, 'backend response could not be sent')
        if (r.body instanceof Readable) r.body.destroy()
        if (!res.headersSent) { res.writeHead(500, { 'content-length': '0' }); res.end() } else res.destroy()
      }
    }, (err: unknown) => {
      log?.error({ err, method, path: breq.path }, 'backend handler failed')
      if (res.headersSent) { res.destroy(); return }
      const msg = Buffer.from('Internal Server Error')
      res.writeHead(500, { 'content-type': 'text/plain', 'content-length': String(msg.length) })
      res.end(msg)
    })
  })
  server.timeout = opts.clientTimeoutMs ?? 60_000
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 75_000
  server.requestTimeout = 0 // a multi-GB upload may take long; the idle timeout guards it
  server.headersTimeout = 60_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : opts.port
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host
  return {
    server,
    host: opts.host,
    port,
    url: `http://${hostForUrl}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeIdleConnections()
    }),
  }
}

/** Where `callBackend` sends a request: a handler in this process, or `http://host:port` / `host:port`. */
export type BackendTarget = BackendHandler | string

/** A request as `callBackend` takes it: query and headers are optional. */
export interface BackendCall {
  method: string
  path: string
  query?: URLSearchParams | string
  headers?: Record<string, string>
  body?: Readable | Buffer
}

/** Options for remote calls. */
export interface CallBackendOptions {
  /** Keep-alive agent; default one shared lazily created agent. */
  agent?: http.Agent
  /** Connection/idle timeout in ms (Swift's node_timeout). Default 10 s. */
  timeoutMs?: number
}

let defaultAgent: http.Agent | undefined
function sharedAgent(): http.Agent {
  defaultAgent ??= new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' })
  return defaultAgent
}

const targetCache = new Map<string, { hostname: string; port: number }>()
function parseTarget(t: string): { hostname: string; port: number } {
  let hit = targetCache.get(t)
  if (!hit) {
    const u = new URL(t.includes('://') ? t : `http://${t}`)
    hit = { hostname: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) }
    if (targetCache.size > 4096) targetCache.clear()
    targetCache.set(t, hit)
  }
  return hit
}

/**
 * Sends one backend request, to an in-process handler or over keep-alive HTTP. Rejects only
 * when no response could be had (connection refused, timeout); HTTP errors are responses.
 * The response body (remote: always a Readable) must be consumed or destroyed.
 */
export async function callBackend(target: BackendTarget, call: BackendCall, opts: CallBackendOptions = {}): Promise<BackendResponse> {
  const query = call.query === undefined ? new URLSearchParams()
    : typeof call.query === 'string' ? new URLSearchParams(call.query) : call.query
  const headers = { ...lowerHeaders(call.headers ?? {}) } // never mutate the caller's object
  if (typeof target === 'function') {
    let body = call.body
    if (Buffer.isBuffer(body)) {
      if (headers['content-length'] === undefined) headers['content-length'] = String(body.length)
      body = Readable.from([body])
    }
    return target({ method: call.method, path: call.path, query, headers, body })
  }
  const { hostname, port } = parseTarget(target)
  const qs = query.toString()
  const wireMethod = NATIVE_METHODS.has(call.method) ? call.method : 'POST'
  if (wireMethod !== call.method) headers[TUNNEL_HEADER] = call.method
  return new Promise<BackendResponse>((resolve, reject) => {
    const req = http.request({
      host: hostname, port, method: wireMethod, path: qs ? `${call.path}?${qs}` : call.path,
      headers, agent: opts.agent ?? sharedAgent(),
    })
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`backend timeout: ${call.method} ${target}${call.path}`)))
    req.once('error', reject)
    req.once('response', (res) => {
      resolve({ status: res.statusCode ?? 500, headers: flatHeaders(res.headers), body: res })
    })
    const body = call.body
    if (body === undefined) req.end()
    else if (Buffer.isBuffer(body)) req.end(body)
    else pipeline(body, req, (err) => { if (err) req.destroy(err) })
  })
}

/** Reads a whole (small) response body; fails past `limit` bytes. */
export async function readBody(resp: BackendResponse, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const b = resp.body
  if (b === undefined) return Buffer.alloc(0)
  if (Buffer.isBuffer(b)) return b
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of b) {
    const chunk = c as Buffer
    n += chunk.length
    if (n > limit) { b.destroy(); throw new Error(`response body larger than ${limit} bytes`) }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, n)
}

/** Discards a response body so its connection can be reused. */
export function drainBody(resp: BackendResponse): void {
  if (resp.body instanceof Readable) resp.body.resume()
}
