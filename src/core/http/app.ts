import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Ajv } from 'ajv'
import type { AuthContext, TokenValidator } from '../auth.ts'
import { CloudError, asCloudError, unauthorized } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { PolicyEngine } from '../policy.ts'
import { type Dialect, renderFault } from './faults.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The validated caller; set on every route that is not public. */
    ctx: AuthContext
  }
  interface FastifyContextConfig {
    /** Policy rule every call must pass (checked before the handler). */
    policy?: string
    /** Loads the target the rule is checked against (the resource's owner, domain…). */
    target?: (req: FastifyRequest) => Promise<Record<string, unknown>> | Record<string, unknown>
    /** No token needed (version discovery, token issue). */
    public?: boolean
    /** A token is read if given, but not required; the handler decides. */
    optionalAuth?: boolean
    /** The handler enforces the policy itself (the rule depends on the resource it loads). */
    selfPolicy?: boolean
  }
}

export type Api = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>

export interface ApiOptions {
  name: string
  dialect: Dialect
  log: Logger
  policy: PolicyEngine
  /** How tokens are validated; routes are public only where they say so. */
  auth: () => TokenValidator
  bodyLimit?: number
  /** Request ids in the API's own format (default `req-<uuid>`, as OpenStack's). */
  genReqId?: () => string
  /**
   * Renders errors Fastify raises before routing (a URL that is not valid percent-encoding,
   * a malformed header); default: a 400 in the API's dialect.
   */
  frameworkError?: (err: Error & { code?: string }, req: FastifyRequest, reply: FastifyReply) => void
}

// Bodies are validated strictly (no coercion, unknown keys rejected where the schema says
// so); query strings and params are strings on the wire and are coerced.
const bodyAjv = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: false })
const queryAjv = new Ajv({ allErrors: false, coerceTypes: 'array', removeAdditional: false, useDefaults: true, strict: false })

/**
 * One Fastify instance for one API dialect, with the conventions every Cumulo API shares:
 * request ids, strict validation, errors in the dialect's shape, authentication and policy
 * on every route, and one structured log line per request (never a secret).
 */
export function createApi(opts: ApiOptions): Api {
  const fastifyOpts: FastifyServerOptions = {
    loggerInstance: opts.log.child({ api: opts.name }) as any,
    // Our own onResponse hook logs one line per request; Fastify's own lines are off.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    genReqId: opts.genReqId ?? (() => `req-${randomUUID()}`),
    // No child logger per request: pino's child() serialises (and redacts) its bindings every
    // time, 1–2 % of a small object request's CPU. Our log lines carry reqId themselves.
    childLoggerFactory: (logger) => logger,
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1000 },
    frameworkErrors: (err, req, reply) => {
      if (opts.frameworkError) return opts.frameworkError(err, req, reply)
      reply.header('x-openstack-request-id', req.id)
      renderFault(reply, opts.dialect, new CloudError('BadRequest', err.message), req.id)
    },
  }
  const app = Fastify(fastifyOpts).withTypeProvider<TypeBoxTypeProvider>() as Api

  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema as object))
  app.setSchemaErrorFormatter((errors, dataVar) => {
    const e = errors[0]
    const where = e?.instancePath ? `${dataVar}${e.instancePath.replace(/\//g, '.')}` : dataVar
    let msg = `${where} ${e?.message ?? 'is invalid'}`
    if (e?.keyword === 'additionalProperties') {
      msg = `Additional properties are not allowed ('${(e.params as any).additionalProperty}' was unexpected) in ${where}`
    }
    return new CloudError('BadRequest', `Invalid input for field/attribute: ${msg}`)
  })

  // An empty body with a JSON content type is no body (clients send the header on DELETE).
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string
    if (text.trim() === '') return done(null, undefined)
    try { done(null, JSON.parse(text)) } catch {
      done(new CloudError('BadRequest', 'Malformed request body: the body is not valid JSON.'), undefined)
    }
  })

  app.decorateRequest('ctx', null as unknown as AuthContext)

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-openstack-request-id', req.id)
    const cfg = req.routeOptions.config
    if (cfg.public) return
    const token = req.headers['x-auth-token']
    if (typeof token !== 'string' || token === '') {
      if (cfg.optionalAuth) return
      throw unauthorized()
    }
    req.ctx = await opts.auth().validate(token)
  })

  app.addHook('preHandler', async (req) => {
    const cfg = req.routeOptions.config
    if (!cfg.policy) return
    const target = cfg.target ? await cfg.target(req) : {}
    opts.policy.enforce(cfg.policy, req.ctx, target)
  })

  // Every route states its policy or that it is public: nothing is reachable by accident.
  app.addHook('onRoute', (route) => {
    const cfg = (route.config ?? {}) as { policy?: string; public?: boolean; optionalAuth?: boolean; selfPolicy?: boolean }
    if (!cfg.policy && !cfg.public && !cfg.optionalAuth && !cfg.selfPolicy && route.method !== 'HEAD') {
      throw new Error(`${opts.name}: route ${route.method} ${route.url} declares no policy`)
    }
  })

  app.setErrorHandler((err, req, reply) => {
    const ce = asCloudError(err)
    if (ce.status >= 500) req.log.error({ err: ce.cause ?? ce, reqId: req.id }, 'request failed')
    renderFault(reply, opts.dialect, ce, req.id)
  })
  app.setNotFoundHandler((req, reply) => {
    reply.header('x-openstack-request-id', req.id)
    renderFault(reply, opts.dialect, new CloudError('NotFound', 'The resource could not be found.'), req.id)
  })

  app.addHook('onResponse', async (req, reply) => {
    req.log.info({
      reqId: req.id, method: req.method, path: req.url.split('?')[0], status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10, user: req.ctx?.userId,
    }, 'request')
  })
  return app
}

/** The body of a request as a plain object (schemas have validated its shape). */
export function bodyOf<T>(req: FastifyRequest): T { return req.body as T }
