import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { CloudError } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import { type ImageCtx, type Req, requestOf } from '../context.ts'
import { PATCH_MEDIA_TYPES } from '../patch.ts'

/** The per-request view of the caller (policy, project, admin). */
export function reqOf(c: ImageCtx, req: FastifyRequest): Req {
  return requestOf(c, req.ctx, req.id)
}

/** The `:image_id` path parameter (any string: unknown ids are a 404, not a 400). */
export const ImageIdParams = Type.Object({ image_id: Type.String() })

/** The URL the client used to reach us (honours X-Forwarded-* from a proxy). */
export function baseUrl(req: FastifyRequest): string {
  const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0] ?? req.protocol
  const host = (req.headers['x-forwarded-host'] as string | undefined) ?? req.headers.host ?? 'localhost'
  return `${proto}://${host}`
}

/** The media type of a request, without parameters, lower case ('' when none). */
export function mediaType(req: FastifyRequest): string {
  return String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
}

/**
 * Request body parsing as Glance does it. Glance reads JSON bodies whatever their
 * Content-Type, so every type that is not image data or a patch is parsed as JSON; image data
 * (application/octet-stream) is handed over as the raw request stream, never buffered; the
 * two JSON-patch media types are JSON too.
 */
export function bodyParsers(api: Api): void {
  const parseJson = (text: string): unknown => {
    if (text.trim() === '') return undefined
    try { return JSON.parse(text) } catch { throw new CloudError('BadRequest', 'Malformed JSON in request body.') }
  }
  api.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))
  api.addContentTypeParser(Object.keys(PATCH_MEDIA_TYPES), { parseAs: 'string' }, (_req, body, done) => {
    try { done(null, parseJson(body as string)) } catch (err) { done(err as Error, undefined) }
  })
  api.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try { done(null, parseJson(body as string)) } catch (err) { done(err as Error, undefined) }
  })
}

/**
 * Answers 405 (with Allow) to the methods a path does not serve, as Glance's router `reject`
 * action does; the caller still needs a token, like everywhere under /v2.
 */
export function rejectOthers(api: Api, url: string, allowed: string[]): void {
  const all = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
  const others = all.filter((m) => !allowed.includes(m))
  if (others.length === 0) return
  api.route({
    method: others as any, url, config: { selfPolicy: true },
    handler: async (req) => {
      // `/v2/images/` names an image with an empty id: not found, whatever the method.
      if (req.url.split('?')[0]!.endsWith('/')) throw new CloudError('NotFound', 'The resource could not be found.')
      throw new CloudError('MethodNotAllowed', 'The method specified is not allowed for this resource.', 'MethodNotAllowed',
        { headers: { allow: allowed.join(', ') } })
    },
  })
}

/** A preParsing hook: 415 unless the body is image data (before anything reads it). */
export async function requireOctetStream(req: FastifyRequest): Promise<void> {
  const t = mediaType(req)
  if (t !== 'application/octet-stream') {
    throw new CloudError('UnsupportedMediaType', `Invalid content type ${t || 'None'}`)
  }
}

/** The size a client declares for image data: x-openstack-image-size, else Content-Length. */
export function declaredSize(req: FastifyRequest): number | undefined {
  const h = req.headers['x-openstack-image-size'] ?? req.headers['content-length']
  if (h === undefined) return undefined
  const n = Number(h)
  if (!Number.isSafeInteger(n) || n < 0) throw new CloudError('BadRequest', 'Invalid or missing image size in request headers.')
  return n
}
