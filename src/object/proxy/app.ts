// The Swift v1 API on Fastify (createApi, dialect 'swift'): /v1/<account>[/<container>[/<object>]]
// plus /info and /auth/v1.0. Request bodies are never parsed: every content type passes the raw
// request stream through, so uploads of any size stream with backpressure to the storage nodes.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { TokenValidator } from '../../core/auth.ts'
import { randomBytes } from 'node:crypto'
import { type Api, createApi } from '../../core/http/app.ts'
import type { Logger } from '../../core/log.ts'
import type { PolicyEngine } from '../../core/policy.ts'
import { DEFAULT_KEYSTONE_AUTH, type KeystoneAuthOptions } from './acl.ts'
import { accountRequest } from './account.ts'
import { type PasswordAuthenticator, identityOf, v1AuthRoutes } from './auth.ts'
import { containerRequest } from './container.ts'
import { type ProxyContext, type ProxyPolicy, loadAccountAcl, timestampSource } from './context.ts'
import { type ContainerSyncSettings, containerSyncSettings } from './container-sync-realms.ts'
import { type CorsSettings, DEFAULT_CORS, optionsAnswer } from './cors.ts'
import { SwiftError } from './errors.ts'
import { infoRoutes } from './info.ts'
import { InfoCache, type InfoCacheOptions } from './info-cache.ts'
import { objectRequest } from './object.ts'
import { publicRouteInfo, publicRoutes } from './public-routes.ts'
import { type Middleware, type SwiftHandler, compose } from './pipeline.ts'
import { type SwiftRequest, clientHeaders, decodedPath, parsePath, send, sendError } from './request.ts'
import type { StorageClient } from './storage-client.ts'

/** Options of the Swift proxy API. */
export interface SwiftProxyOptions {
  log: Logger
  policy: PolicyEngine
  /** Validates X-Auth-Token (the identity service's validator, in-process or remote). */
  auth: () => TokenValidator
  client: StorageClient
  /** For GET /auth/v1.0; without it v1 auth answers 401. */
  authenticate?: PasswordAuthenticator
  keystone?: Partial<KeystoneAuthOptions>
  policies?: readonly ProxyPolicy[]
  infoCache?: InfoCacheOptions
  /** Longest silence while a client uploads (Swift's client_timeout). Default 60 s. */
  clientTimeoutMs?: number
  /** Longest wait for a storage node (Swift's node_timeout). Default 10 s. */
  nodeTimeoutMs?: number
  /** Base of storage URLs handed out by /auth/v1.0; default from the Host header. */
  publicUrl?: string
  /** The middleware pipeline, outermost first (default: none; see middlewares.ts for the cloud's). */
  middlewares?: readonly Middleware[]
  /** CORS settings (default Swift's: no operator origins, strict mode). */
  cors?: Partial<CorsSettings>
  /** Container sync realms and allowed hosts (default: no realms, allowed_sync_hosts 127.0.0.1). */
  containerSync?: ContainerSyncSettings
}

/** The running proxy: its Fastify API and shared state. */
export interface SwiftProxy {
  api: Api
  ctx: ProxyContext
}

/** The request's Content-Type, taken aside before Fastify's parser lookup (see createSwiftProxy). */
const kContentType = Symbol('swift-content-type')
type WithCt = FastifyRequest & { [kContentType]?: string }

/** Unread request bodies up to this size are drained to keep the connection; larger ones close it. */
const UNREAD_BODY_LIMIT = 256 * 1024

/** Builds the Swift API. */
export function createSwiftProxy(o: SwiftProxyOptions): SwiftProxy {
  const api = createApi({ name: 'object-store', dialect: 'swift', log: o.log, policy: o.policy, auth: o.auth,
    bodyLimit: 1024 * 1024, genReqId: swiftTransId,
    // A path that is not valid percent-encoding is Swift's 412, as invalid UTF-8 in parsePath.
    frameworkError: (err, req, reply) => {
      const e = err.code === 'FST_ERR_BAD_URL' ? SwiftError.text(412, 'Invalid UTF8 or contains NULL') : SwiftError.status(400)
      reply.code(e.status).header('content-type', e.contentType).header('x-trans-id', req.id).send(e.body)
    } })
  const policies = o.policies ?? [{ index: 0, name: 'Policy-0', isDefault: true }]
  const ctx: ProxyContext = {
    client: o.client,
    infos: new InfoCache(o.client, () => ({ 'user-agent': `proxy-server ${process.pid}` }), o.infoCache),
    auth: { ...DEFAULT_KEYSTONE_AUTH, ...o.keystone },
    now: timestampSource(),
    log: o.log.child({ svc: 'swift' }),
    clientTimeoutMs: o.clientTimeoutMs ?? 60_000,
    nodeTimeoutMs: o.nodeTimeoutMs ?? 10_000,
    policies,
    cors: { ...DEFAULT_CORS, ...o.cors },
    containerSync: o.containerSync ?? containerSyncSettings(),
  }

  // Object bodies are data, whatever their Content-Type: no parser may read them. Fastify picks
  // a parser by Content-Type (and answers 415 to types it cannot parse), so the header is set
  // aside before that and every body goes to the one pass-through parser.
  api.addHttpMethod('COPY', { hasBody: true })
  api.removeAllContentTypeParsers()
  api.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined))
  api.addHook('onRequest', async (req) => {
    const ct = req.headers['content-type']
    if (ct !== undefined) {
      (req as WithCt)[kContentType] = ct
      delete req.headers['content-type']
    }
  })

  // A large request body left unread (an early 401, 404 or 413 on an upload) is not drained:
  // as Swift, the connection is closed instead of receiving gigabytes for nothing.
  api.addHook('onSend', async (req, reply) => {
    // Swift answers every request with a Content-Type (text/html for empty bodies) and an
    // X-Trans-Id; clients and Tempest rely on both.
    if (!reply.hasHeader('content-type')) reply.header('content-type', 'text/html; charset=UTF-8')
    if (!reply.hasHeader('x-trans-id')) reply.header('x-trans-id', req.id)
    const raw = req.raw
    if (raw.complete || raw.readableEnded) return
    const h = raw.headers
    if (h['transfer-encoding'] !== undefined || Number(h['content-length'] ?? 0) > UNREAD_BODY_LIMIT) reply.header('connection', 'close')
  })

  const middlewares = o.middlewares ?? []
  // Composed first: a middleware's /info section may depend on the context it was given.
  const pipeline = compose(middlewares, (req) => controllers(ctx, req), ctx)
  infoRoutes(api, policies, middlewares, publicRouteInfo())
  publicRoutes(api)
  v1AuthRoutes(api, {
    authenticate: o.authenticate ?? (async () => null),
    resellerPrefix: ctx.auth.resellerPrefix,
    publicUrl: o.publicUrl,
  })
  const handler = (req: FastifyRequest, reply: FastifyReply) => dispatch(pipeline, req, reply)
  for (const url of ['/v1/*', '/v1.0/*']) {
    api.route({
      method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY', 'OPTIONS'], url, exposeHeadRoute: false,
      // Who may do what depends on the account, the container's ACLs and the token's roles:
      // the controllers decide (keystoneauth), and anonymous requests are allowed through to them.
      config: { optionalAuth: true, selfPolicy: true },
      handler,
    })
  }
  return { api, ctx }
}

/** Parses the request and answers it through the pipeline. */
async function dispatch(pipeline: SwiftHandler, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const headers = clientHeaders(req.raw.headers)
  const ct = (req as WithCt)[kContentType]
  if (ct !== undefined) headers['content-type'] = ct
  const hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0')
  const sreq: SwiftRequest = {
    method: req.method, account: '', query: new URLSearchParams(), headers, body: hasBody ? req.raw : undefined,
    identity: req.ctx ? identityOf(req.ctx) : undefined, id: req.id, owner: false, env: new Map(),
  }
  // The client's address, for tempurl's temp_url_ip_range (Swift's REMOTE_ADDR).
  sreq.env!.set('REMOTE_ADDR', req.ip)
  try {
    const { path, query } = parsePath(req.url)
    if (!path.account) throw SwiftError.status(404)
    sreq.account = path.account
    sreq.container = path.container
    sreq.obj = path.container === undefined ? undefined : path.obj
    sreq.query = query
    sreq.env!.set('swift.version', path.version)
    // The decoded path as sent, trailing '/' included (staticweb redirects /v1/a/c to /v1/a/c/).
    sreq.env!.set('swift.path', decodedPath(req.url))
    const answer = await pipeline(sreq)
    // Middlewares talk to one another in x-backend-* headers; the client never sees them.
    for (const k in answer.headers) if (k.startsWith('x-backend-')) delete answer.headers[k]
    return send(reply, sreq, answer.status, answer.headers, answer.body)
  } catch (err) {
    if (err instanceof SwiftError) return sendError(reply, sreq, err)
    throw err
  }
}

/** The innermost handler: the controller for the path's depth. */
async function controllers(ctx: ProxyContext, req: SwiftRequest) {
  // Preflights are answered by the cors middleware; without it, OPTIONS still gets its Allow.
  if (req.method === 'OPTIONS') return optionsAnswer(ctx, req)
  await loadAccountAcl(ctx, req)
  if (req.obj !== undefined && req.container !== undefined) return objectRequest(ctx, req)
  if (req.container !== undefined) {
    if (req.method === 'COPY') throw SwiftError.status(405)
    return containerRequest(ctx, req)
  }
  return accountRequest(ctx, req)
}

/** Swift's transaction id: `tx` + 21 random hex + `-` + the time in 10 hex digits (clients and Tempest check the form). */
export function swiftTransId(): string {
  return `tx${randomBytes(11).toString('hex').slice(0, 21)}-${Math.floor(Date.now() / 1000).toString(16).padStart(10, '0')}`
}
