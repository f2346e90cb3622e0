import type { FastifyRequest } from 'fastify'
import { CloudError } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import type { ImageCtx } from '../context.ts'
import { updateImage } from '../image-update.ts'
import { PATCH_MEDIA_TYPES, parsePatch } from '../patch.ts'
import { createImage, deleteImage, listVisibleImages, showImage } from '../service.ts'
import { imageView } from '../views.ts'
import { ImageIdParams, baseUrl, mediaType, reqOf, rejectOthers } from './common.ts'
import { parseListQuery } from './list-query.ts'

// /v2/images and /v2/images/{image_id} (glance/api/v2/images.py).

/** The query string as ordered pairs (repeated `tag` and `sort_key` keep their order). */
function queryPairs(req: FastifyRequest): Array<[string, string]> {
  const i = req.url.indexOf('?')
  return i < 0 ? [] : [...new URLSearchParams(req.url.slice(i + 1)).entries()]
}

/** Routes of images: create, list, show, update (JSON patch), delete. */
export function imageRoutes(api: Api, c: ImageCtx): void {
  api.post('/v2/images', { config: { selfPolicy: true } }, async (req, reply) => {
    const image = await createImage(c, reqOf(c, req), req.body)
    reply.code(201).header('location', `${baseUrl(req)}/v2/images/${image.id}`)
    if (c.config.importMethods.length) reply.header('openstack-image-import-methods', c.config.importMethods.join(','))
    return imageView(image)
  })

  api.get('/v2/images', {
    config: { policy: 'get_images', target: (req) => ({ project_id: req.ctx.projectId }) },
  }, async (req) => {
    // `/v2/images/` is GET of an image with an empty id (Tempest expects 404), not the list.
    if (req.url.split('?')[0]!.endsWith('/')) throw new CloudError('NotFound', 'No image found with ID ')
    const pairs = queryPairs(req)
    const q = parseListQuery(pairs, c.config)
    const { images, nextMarker } = await listVisibleImages(c, reqOf(c, req), q)
    const rest = new URLSearchParams(pairs.filter(([k]) => k !== 'marker'))
    const body: Record<string, unknown> = {
      images: images.map(imageView),
      first: rest.size ? `/v2/images?${rest}` : '/v2/images',
      schema: '/v2/schemas/images',
    }
    if (nextMarker) {
      rest.append('marker', nextMarker)
      body.next = `/v2/images?${rest}`
    }
    return body
  })
  rejectOthers(api, '/v2/images', ['GET', 'POST'])

  api.get('/v2/images/:image_id', { schema: { params: ImageIdParams }, config: { selfPolicy: true } }, async (req) =>
    imageView(await showImage(c, reqOf(c, req), req.params.image_id)))

  api.patch('/v2/images/:image_id', {
    schema: { params: ImageIdParams },
    config: { selfPolicy: true },
    // The media type decides the patch dialect; anything else is refused before the body is read.
    preParsing: async (req, _reply, payload) => {
      if (!(mediaType(req) in PATCH_MEDIA_TYPES)) {
        const allowed = Object.keys(PATCH_MEDIA_TYPES).sort().join(', ')
        throw new CloudError('UnsupportedMediaType', `Image PATCH expects Content-Type one of: ${allowed}`,
          'UnsupportedMediaType', { headers: { 'accept-patch': allowed } })
      }
      return payload
    },
  }, async (req) => {
    if (req.body === undefined) throw new CloudError('BadRequest', 'Body expected in request.')
    const changes = parsePatch(req.body, PATCH_MEDIA_TYPES[mediaType(req)]!, c.schemas)
    return imageView(await updateImage(c, reqOf(c, req), req.params.image_id, changes))
  })

  api.delete('/v2/images/:image_id', { schema: { params: ImageIdParams }, config: { selfPolicy: true } }, async (req, reply) => {
    await deleteImage(c, reqOf(c, req), req.params.image_id)
    reply.code(204).send()
  })
  rejectOthers(api, '/v2/images/:image_id', ['GET', 'PATCH', 'DELETE'])
}
