// Serves S3 on the Swift proxy's port, as s3api does in Swift's pipeline: a request goes to the
// S3 handler when it carries SigV4 (an `AWS4-HMAC-SHA256` Authorization header or a presigned
// query) or when its path is not the Swift API's (/v1, /v1.0, /auth, /info, /healthcheck, /crossdomain.xml). The handler gets
// the raw node:http request and response; Fastify lets go of them (reply.hijack()).
import type { IncomingMessage } from 'node:http'
import type { Api } from '../../core/http/app.ts'
import { type S3HandlerOptions, createS3Handler } from '../s3/index.ts'

const SWIFT_PATH = /^\/(v1(\.0)?|auth|info|healthcheck|crossdomain\.xml)(\/|\?|$)/

/** Whether a request is for S3 rather than for the Swift API. */
export function isS3Request(req: IncomingMessage): boolean {
  const auth = req.headers.authorization
  if (typeof auth === 'string' && auth.startsWith('AWS4-HMAC-SHA256')) return true
  const url = req.url ?? '/'
  if (/[?&]X-Amz-Algorithm=/i.test(url)) return true
  return !SWIFT_PATH.test(url)
}

/**
 * The Swift proxy sets Content-Type aside before Fastify picks a body parser (app.ts); the S3
 * handler needs it back (it is signed and stored), from the raw header lines.
 */
function restoreContentType(req: IncomingMessage): void {
  if (req.headers['content-type'] !== undefined) return
  const raw = req.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'content-type') { req.headers['content-type'] = raw[i + 1]; return }
  }
}

/** Mounts the S3 handler on the proxy's Fastify instance. */
export function mountS3(api: Api, o: S3HandlerOptions): void {
  const s3 = createS3Handler(o)
  // Paths no Swift route knows must reach the hook below without a token: a public catch-all
  // route (its handler never runs, the hook takes every such request).
  api.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS'], url: '/*', exposeHeadRoute: false,
    config: { public: true },
    handler: async (_req, reply) => reply.code(404).send(),
  })
  api.addHook('onRequest', async (req, reply) => {
    if (!isS3Request(req.raw)) return
    restoreContentType(req.raw)
    reply.hijack()
    await s3(req.raw, reply.raw)
  })
}
