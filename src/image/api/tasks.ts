import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { CloudError } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import type { ImageCtx } from '../context.ts'
import { taskView } from '../views.ts'
import { reqOf, rejectOthers } from './common.ts'

// /v2/tasks (glance/api/v2/tasks.py): the tasks of interoperable image imports, readable by
// the admin (Glance's tasks_api_access). Creating tasks through this API (the legacy `import`
// task type) is not offered: imports go through POST /v2/images/{id}/import.

const TaskParams = Type.Object({ task_id: Type.String() })
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
  marker: Type.Optional(Type.String()),
  status: Type.Optional(Type.Union(['pending', 'processing', 'success', 'failure'].map((s) => Type.Literal(s)))),
  type: Type.Optional(Type.String()),
  sort_dir: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
})

/** The tasks API routes. */
export function taskRoutes(api: Api, c: ImageCtx): void {
  const access = (req: FastifyRequest, rule: string) => {
    const r = reqOf(c, req)
    r.policy.enforce('tasks_api_access', { project_id: req.ctx.projectId })
    r.policy.enforce(rule, { project_id: req.ctx.projectId })
    return r
  }

  api.get('/v2/tasks', { schema: { querystring: ListQuery }, config: { selfPolicy: true } }, async (req) => {
    const r = access(req, 'get_tasks')
    const q = req.query
    const dir = q.sort_dir ?? 'desc'
    let query = c.db.selectFrom('tasks').selectAll()
    if (!r.caller.admin) query = query.where('owner', '=', r.caller.project ?? '')
    if (q.status) query = query.where('status', '=', q.status)
    if (q.type) query = query.where('type', '=', q.type)
    if (q.marker) {
      const m = await c.db.selectFrom('tasks').selectAll().where('id', '=', q.marker).executeTakeFirst()
      if (!m) throw new CloudError('BadRequest', `Invalid marker. Task ${q.marker} could not be found.`)
      const op = dir === 'asc' ? '>' : '<'
      query = query.where((eb) => eb.or([eb('created_at', op, m.created_at),
        eb.and([eb('created_at', '=', m.created_at), eb('id', op, m.id)])]))
    }
    const limit = Math.min(q.limit ?? c.config.limitDefault, c.config.limitMax)
    const rows = await query.orderBy('created_at', dir).orderBy('id', dir).limit(limit).execute()
    const body: Record<string, unknown> = { tasks: rows.map((t) => taskView(t, true)), first: '/v2/tasks', schema: '/v2/schemas/tasks' }
    if (rows.length === limit && rows.length > 0) body.next = `/v2/tasks?marker=${rows[rows.length - 1]!.id}`
    return body
  })

  api.post('/v2/tasks', { config: { selfPolicy: true } }, async (req) => {
    access(req, 'add_task')
    throw new CloudError('NotImplemented', 'Creating tasks with POST /v2/tasks (the legacy "import" task) is not ' +
      'implemented by this cloud; import image data with POST /v2/images/{image_id}/import instead.')
  })
  rejectOthers(api, '/v2/tasks', ['GET', 'POST'])

  api.get('/v2/tasks/:task_id', { schema: { params: TaskParams }, config: { selfPolicy: true } }, async (req) => {
    const r = access(req, 'get_task')
    const t = await c.db.selectFrom('tasks').selectAll().where('id', '=', req.params.task_id).executeTakeFirst()
    if (!t || (!r.caller.admin && t.owner !== r.caller.project)) {
      throw new CloudError('NotFound', `Failed to find task ${req.params.task_id}`)
    }
    return taskView(t)
  })
  api.delete('/v2/tasks/:task_id', { schema: { params: TaskParams }, config: { selfPolicy: true } }, async () => {
    throw new CloudError('MethodNotAllowed', 'This operation is currently not permitted on Glance Tasks. They are auto ' +
      'deleted after reaching the time based on their expires_at property.', 'MethodNotAllowed', { headers: { allow: 'GET' } })
  })
  rejectOthers(api, '/v2/tasks/:task_id', ['GET', 'DELETE'])
}
