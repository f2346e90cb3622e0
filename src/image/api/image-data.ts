import { Readable } from 'node:stream'
import type { Api } from '../../core/http/app.ts'
import type { ImageCtx } from '../context.ts'
import { downloadImage, stageImage, uploadImage } from '../image-data.ts'
import { imageTasks, importImage } from '../imports.ts'
import { imageTaskView } from '../views.ts'
import { ImageIdParams, declaredSize, reqOf, rejectOthers, requireOctetStream } from './common.ts'

// Image data and import (glance/api/v2/image_data.py, images.py import_image, get_task_info).

/** PUT/GET /v2/images/{id}/file, PUT /stage, POST /import, GET /tasks. */
export function imageDataRoutes(api: Api, c: ImageCtx): void {
  const dataRoute = {
    schema: { params: ImageIdParams },
    config: { selfPolicy: true },
    preParsing: async (req: any, _reply: unknown, payload: unknown) => { await requireOctetStream(req); return payload },
  }

  api.put('/v2/images/:image_id/file', dataRoute, async (req, reply) => {
    const size = declaredSize(req)
    await uploadImage(c, reqOf(c, req), req.params.image_id, req.body as Readable ?? emptyStream(), { size })
    reply.code(204).send()
  })

  api.get('/v2/images/:image_id/file', { schema: { params: ImageIdParams }, config: { selfPolicy: true } }, async (req, reply) => {
    const d = await downloadImage(c, reqOf(c, req), req.params.image_id, req.headers.range)
    reply.code(d.status).headers(d.headers)
    if (!d.body) return reply.send()
    return reply.send(d.body)
  })
  rejectOthers(api, '/v2/images/:image_id/file', ['GET', 'PUT'])

  api.put('/v2/images/:image_id/stage', dataRoute, async (req, reply) => {
    const size = declaredSize(req)
    await stageImage(c, reqOf(c, req), req.params.image_id, req.body as Readable ?? emptyStream(), { size })
    reply.code(204).send()
  })
  rejectOthers(api, '/v2/images/:image_id/stage', ['PUT'])

  api.post('/v2/images/:image_id/import', { schema: { params: ImageIdParams }, config: { selfPolicy: true } }, async (req, reply) => {
    await importImage(c, reqOf(c, req), req.params.image_id, req.body)
    reply.code(202).send()
  })
  rejectOthers(api, '/v2/images/:image_id/import', ['POST'])

  api.get('/v2/images/:image_id/tasks', { schema: { params: ImageIdParams }, config: { selfPolicy: true } }, async (req) => {
    const tasks = await imageTasks(c, reqOf(c, req), req.params.image_id)
    return { tasks: tasks.map(imageTaskView) }
  })
}

/** A body-less upload (Content-Length: 0 makes Fastify skip the parser): zero bytes of data. */
function emptyStream(): Readable {
  return Readable.from([])
}
