import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { CloudError, badRequest, notFound } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import { replaceTags } from '../projects-store.ts'
import { baseUrl, parseJson } from './common.ts'
import {
  MAX_TAGS, type Resource, Tag, checkTag, mustLoadTarget, normalizeTags, projectTarget, resourceOptions, resourceTags,
} from './resource-common.ts'

// /v3/projects/{project_id}/tags[/{tag}] (keystone/api/projects.py, API-WG tags guideline).
// Domains are projects acting as domains in Keystone, so their tags are reachable here too.

const IdParam = Type.Object({ project_id: Type.String({ minLength: 1, maxLength: 255 }) })
const TagParam = Type.Object({ project_id: Type.String({ minLength: 1, maxLength: 255 }), tag: Type.String() })
// Keystone validates the list's shape here and its size and uniqueness after stripping.
const TagsBody = Type.Object({ tags: Type.Array(Tag) }, { additionalProperties: false })

/** Makes a project's (or domain's) tags exactly `tags`. */
async function writeTags(c: IdentityCtx, r: Resource, tags: string[]): Promise<void> {
  if (r.kind === 'project') {
    await c.db.transaction().execute((trx) => replaceTags(trx, r.row.id, tags))
  } else {
    const extra = parseJson(r.row.extra)
    await c.db.updateTable('domains').set({ extra: JSON.stringify({ ...extra, tags }) }).where('id', '=', r.row.id).execute()
  }
}

/** Tags of an immutable project or domain cannot change (Keystone's ResourceUpdateForbidden). */
function checkMutable(r: Resource, what: 'create' | 'update' | 'delete'): void {
  if (resourceOptions(r).immutable === true) {
    throw new CloudError('Forbidden', `Cannot ${what} project tags for ${r.row.id}, project is immutable. ` +
      'Set "immutable" option to false before creating project tags.')
  }
}

const tagsLink = (req: FastifyRequest) => ({ self: `${baseUrl(req)}${req.url.split('?')[0]}` })

export function projectTagRoutes(api: Api, c: IdentityCtx): void {
  const target = (req: FastifyRequest) => projectTarget(c.db, req)

  api.get('/v3/projects/:project_id/tags', {
    schema: { params: IdParam },
    config: { policy: 'identity:list_project_tags', target },
  }, async (req) => {
    const r = await mustLoadTarget(c.db, req)
    return { tags: await resourceTags(c.db, r), links: tagsLink(req) }
  })

  api.put('/v3/projects/:project_id/tags', {
    schema: { params: IdParam, body: TagsBody },
    config: { policy: 'identity:update_project_tags', target },
  }, async (req) => {
    const r = await mustLoadTarget(c.db, req)
    checkMutable(r, 'update')
    const tags = normalizeTags(req.body.tags)
    if (tags.length > MAX_TAGS) throw badRequest(`Invalid input for field/attribute tags: a project has at most ${MAX_TAGS} tags.`)
    await writeTags(c, r, tags)
    return { tags, links: tagsLink(req) }
  })

  api.delete('/v3/projects/:project_id/tags', {
    schema: { params: IdParam },
    config: { policy: 'identity:delete_project_tags', target },
  }, async (req, reply) => {
    const r = await mustLoadTarget(c.db, req)
    checkMutable(r, 'update')
    await writeTags(c, r, [])
    reply.code(204).send()
  })

  api.get('/v3/projects/:project_id/tags/:tag', {
    schema: { params: TagParam },
    config: { policy: 'identity:get_project_tag', target },
  }, async (req, reply) => {
    const r = await mustLoadTarget(c.db, req)
    if (!(await resourceTags(c.db, r)).includes(req.params.tag)) throw notFound(`Could not find project tag: ${req.params.tag}.`)
    reply.code(204).send()
  })

  api.put('/v3/projects/:project_id/tags/:tag', {
    schema: { params: TagParam },
    config: { policy: 'identity:create_project_tag', target },
  }, async (req, reply) => {
    const r = await mustLoadTarget(c.db, req)
    checkTag(req.params.tag)
    checkMutable(r, 'create')
    const tag = req.params.tag.trim()
    const tags = await resourceTags(c.db, r)
    // Keystone validates the new list as a whole: a tag already present is a duplicate.
    if (tags.includes(tag)) throw badRequest(`Invalid input for field/attribute tags: the tag '${tag}' is already on project ${r.row.id}.`)
    if (tags.length + 1 > MAX_TAGS) throw badRequest(`Invalid input for field/attribute tags: a project has at most ${MAX_TAGS} tags.`)
    await writeTags(c, r, [...tags, tag])
    reply.code(201).header('location', `${baseUrl(req)}/v3/projects/${r.row.id}/tags/${encodeURIComponent(tag)}`).send()
  })

  api.delete('/v3/projects/:project_id/tags/:tag', {
    schema: { params: TagParam },
    config: { policy: 'identity:delete_project_tag', target },
  }, async (req, reply) => {
    const r = await mustLoadTarget(c.db, req)
    checkMutable(r, 'delete')
    const tags = await resourceTags(c.db, r)
    if (!tags.includes(req.params.tag)) throw notFound(`Could not find project tag: ${req.params.tag}.`)
    await writeTags(c, r, tags.filter((t) => t !== req.params.tag))
    reply.code(204).send()
  })
}
