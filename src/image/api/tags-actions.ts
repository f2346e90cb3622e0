import { Type } from 'typebox'
import type { Api } from '../../core/http/app.ts'
import type { ImageCtx } from '../context.ts'
import { addTag, removeTag } from '../image-update.ts'
import { setActive } from '../service.ts'
import { ImageIdParams, reqOf, rejectOthers } from './common.ts'

// /v2/images/{id}/tags/{tag} (image_tags.py) and /v2/images/{id}/actions/{de,re}activate
// (image_actions.py).

const TagParams = Type.Object({ image_id: Type.String(), tag: Type.String() })

/** Tag and action routes. */
export function tagAndActionRoutes(api: Api, c: ImageCtx): void {
  api.put('/v2/images/:image_id/tags/:tag', { schema: { params: TagParams }, config: { selfPolicy: true } }, async (req, reply) => {
    await addTag(c, reqOf(c, req), req.params.image_id, req.params.tag)
    reply.code(204).send()
  })
  api.delete('/v2/images/:image_id/tags/:tag', { schema: { params: TagParams }, config: { selfPolicy: true } }, async (req, reply) => {
    await removeTag(c, reqOf(c, req), req.params.image_id, req.params.tag)
    reply.code(204).send()
  })
  rejectOthers(api, '/v2/images/:image_id/tags/:tag', ['PUT', 'DELETE'])

  for (const action of ['deactivate', 'reactivate'] as const) {
    const url = `/v2/images/:image_id/actions/${action}`
    api.post(url, { schema: { params: ImageIdParams }, config: { selfPolicy: true } }, async (req, reply) => {
      await setActive(c, reqOf(c, req), req.params.image_id, action === 'reactivate')
      reply.code(204).send()
    })
    rejectOthers(api, url, ['POST'])
  }
}
