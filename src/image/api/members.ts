import { Type } from 'typebox'
import type { Api } from '../../core/http/app.ts'
import type { ImageCtx } from '../context.ts'
import { createMember, deleteMember, memberOf, membersOf, updateMember } from '../members.ts'
import { memberView } from '../views.ts'
import { ImageIdParams, reqOf, rejectOthers } from './common.ts'

// /v2/images/{image_id}/members[/{member_id}] (glance/api/v2/image_members.py).

const MemberParams = Type.Object({ image_id: Type.String(), member_id: Type.String() })

/** Image sharing routes. */
export function memberRoutes(api: Api, c: ImageCtx): void {
  api.get('/v2/images/:image_id/members', { schema: { params: ImageIdParams }, config: { selfPolicy: true } }, async (req) => {
    const members = await membersOf(c, reqOf(c, req), req.params.image_id)
    return { members: members.map(memberView), schema: '/v2/schemas/members' }
  })
  api.post('/v2/images/:image_id/members', { schema: { params: ImageIdParams }, config: { selfPolicy: true } }, async (req) =>
    memberView(await createMember(c, reqOf(c, req), req.params.image_id, req.body)))
  rejectOthers(api, '/v2/images/:image_id/members', ['GET', 'POST'])

  api.get('/v2/images/:image_id/members/:member_id', { schema: { params: MemberParams }, config: { selfPolicy: true } }, async (req) =>
    memberView(await memberOf(c, reqOf(c, req), req.params.image_id, req.params.member_id)))
  api.put('/v2/images/:image_id/members/:member_id', { schema: { params: MemberParams }, config: { selfPolicy: true } }, async (req) =>
    memberView(await updateMember(c, reqOf(c, req), req.params.image_id, req.params.member_id, req.body)))
  api.delete('/v2/images/:image_id/members/:member_id', { schema: { params: MemberParams }, config: { selfPolicy: true } }, async (req, reply) => {
    await deleteMember(c, reqOf(c, req), req.params.image_id, req.params.member_id)
    reply.code(204).send()
  })
  rejectOthers(api, '/v2/images/:image_id/members/:member_id', ['GET', 'PUT', 'DELETE'])
}
