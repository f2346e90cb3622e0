import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { CloudError, badRequest, forbidden } from '../../core/errors.ts'
import { isUniqueViolation } from '../../core/db/index.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import {
  MAX_PROJECT_DEPTH, ancestorsOf, deleteProjects, hasChildren, projectsForUser, replaceTags, subtreeOf, tagsOf,
} from '../projects-store.ts'
import type { ProjectRow } from '../schema.ts'
import { listLinks, newId, notFoundError, parseJson, queryBool } from './common.ts'
import { createDomain, deleteDomain, updateDomain } from './domains.ts'
import { projectTagRoutes } from './project-tags.ts'
import { type ProjectQuery, listProjects } from './project-list.ts'
import {
  NullableString, type OptionsIn, Options, type Resource, ResourceName, Tags, checkImmutableDelete,
  checkImmutableUpdate, extrasOf, mergeOptions, mustLoadTarget, normalizeTags, projectConflict, projectTarget,
  queryFlag, resourceOptions, resourceTags,
} from './resource-common.ts'
import { domainProjectView, projectView } from './views.ts'

// /v3/projects (keystone/api/projects.py, keystone/resource/core.py) and
// /v3/users/{user_id}/projects. A domain id is a project id too (a project acting as a
// domain): GET, PATCH and DELETE reach domains, and `is_domain: true` creates one.

const PROJECT_KEYS = ['id', 'name', 'description', 'domain_id', 'enabled', 'is_domain', 'parent_id', 'tags', 'options'] as const

const ProjectCreate = Type.Object({
  project: Type.Object({
    name: ResourceName,
    description: Type.Optional(NullableString),
    domain_id: Type.Optional(NullableString),
    enabled: Type.Optional(Type.Boolean()),
    is_domain: Type.Optional(Type.Boolean()),
    parent_id: Type.Optional(NullableString),
    tags: Type.Optional(Tags),
    options: Type.Optional(Options),
  }),
}, { additionalProperties: false })

const ProjectUpdate = Type.Object({
  project: Type.Object({
    name: Type.Optional(ResourceName),
    description: Type.Optional(NullableString),
    enabled: Type.Optional(Type.Boolean()),
    tags: Type.Optional(Tags),
    options: Type.Optional(Options),
  }, { minProperties: 1 }),
}, { additionalProperties: false })

const IdParam = Type.Object({ project_id: Type.String({ minLength: 1, maxLength: 255 }) })
const UserParam = Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 255 }) })
const Str = Type.Optional(Type.String())
const ListQuery = Type.Object({
  domain_id: Str, enabled: Str, name: Str, parent_id: Str, is_domain: Str,
  tags: Str, 'tags-any': Str, 'not-tags': Str, 'not-tags-any': Str,
})
const UserProjectsQuery = Type.Object({ domain_id: Str, enabled: Str, name: Str })

type Body = Record<string, unknown>

/** A project or domain as the projects API shows it, its tags loaded. */
async function view(c: IdentityCtx, req: FastifyRequest, r: Resource) {
  return r.kind === 'domain' ? domainProjectView(req, r.row) : projectView(req, r.row, await resourceTags(c.db, r))
}

export function projectRoutes(api: Api, c: IdentityCtx): void {
  api.post('/v3/projects', {
    schema: { body: ProjectCreate },
    config: { policy: 'identity:create_project', target: (req) => ({ project: (req.body as { project: unknown }).project }) },
  }, async (req, reply) => {
    const p = req.body.project as typeof req.body.project & Body
    reply.code(201)
    if (p.is_domain) {
      if (p.domain_id || p.parent_id) throw badRequest('only root projects are allowed to act as domains.')
      const d = await createDomain(c, { name: p.name, description: p.description, enabled: p.enabled, tags: p.tags,
        options: p.options, extra: extrasOf(p, PROJECT_KEYS, true) })
      return { project: domainProjectView(req, d) }
    }
    const row = await createProject(c, req, p)
    return { project: projectView(req, row, (await tagsOf(c.db, [row.id])).get(row.id) ?? []) }
  })

  api.get('/v3/projects', {
    schema: { querystring: ListQuery },
    config: {
      policy: 'identity:list_projects',
      target: (req) => (req.ctx.domainId ? { domain_id: req.ctx.domainId } : {}),
    },
  }, async (req) => ({ projects: await listProjects(c, req, req.query as ProjectQuery), links: listLinks(req) }))

  api.get('/v3/projects/:project_id', {
    schema: { params: IdParam },
    config: { policy: 'identity:get_project', target: (req) => projectTarget(c.db, req) },
  }, async (req) => {
    const r = await mustLoadTarget(c.db, req)
    const out: Record<string, unknown> = await view(c, req, r)
    await expandHierarchy(c, req, r, out)
    return { project: out }
  })

  api.patch('/v3/projects/:project_id', {
    schema: { params: IdParam, body: ProjectUpdate },
    config: { policy: 'identity:update_project', target: (req) => projectTarget(c.db, req) },
  }, async (req) => {
    const r = await mustLoadTarget(c.db, req)
    const body = req.body.project as Body
    if (body.id !== undefined && body.id !== r.row.id) throw badRequest('Cannot change ID')
    if (r.kind === 'domain') {
      if ('domain_id' in body && body.domain_id !== null) throw badRequest('Cannot change Domain ID')
      if ('parent_id' in body && body.parent_id !== null) throw forbidden('Update of `parent_id` is not allowed.')
      if ('is_domain' in body && body.is_domain !== true) throw badRequest('Update of `is_domain` is not allowed.')
      return { project: domainProjectView(req, await updateDomain(c, r.row, body, PROJECT_KEYS)) }
    }
    const row = await updateProject(c, r.row, body)
    return { project: projectView(req, row, (await tagsOf(c.db, [row.id])).get(row.id) ?? []) }
  })

  api.delete('/v3/projects/:project_id', {
    schema: { params: IdParam },
    config: { policy: 'identity:delete_project', target: (req) => projectTarget(c.db, req) },
  }, async (req, reply) => {
    const r = await mustLoadTarget(c.db, req)
    if (r.kind === 'domain') await deleteDomain(c, r.row)
    else await deleteProject(c, r.row)
    reply.code(204).send()
  })

  api.get('/v3/users/:user_id/projects', {
    schema: { params: UserParam, querystring: UserProjectsQuery },
    config: {
      policy: 'identity:list_user_projects',
      target: async (req) => {
        const id = (req.params as { user_id: string }).user_id
        const u = await c.db.selectFrom('users').select(['id', 'domain_id']).where('id', '=', id).executeTakeFirst()
        return u ? { user: { id: u.id, domain_id: u.domain_id }, user_id: u.id } : { user_id: id }
      },
    },
  }, async (req) => {
    const { user_id: userId } = req.params
    if (!(await c.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst())) throw notFoundError('user', userId)
    const q = req.query
    const enabled = q.enabled === undefined ? undefined : (queryBool(q.enabled) ?? true)
    const rows = (await projectsForUser(c.db, userId)).filter((p) =>
      (q.domain_id === undefined || p.domain_id === q.domain_id) && (q.name === undefined || p.name === q.name) &&
      (enabled === undefined || !!p.enabled === enabled))
    const tags = await tagsOf(c.db, rows.map((p) => p.id))
    return { projects: rows.map((p) => projectView(req, p, tags.get(p.id) ?? [])), links: listLinks(req) }
  })

  projectTagRoutes(api, c)
}

/** Keystone's create_project for a regular project: domain, parent and hierarchy rules. */
async function createProject(c: IdentityCtx, req: FastifyRequest, p: Body & { name: string }): Promise<ProjectRow> {
  const db = c.db
  let parent: ProjectRow | undefined
  let parentIsDomain = false
  const parentId = (p.parent_id as string | null | undefined) || undefined
  if (parentId) {
    parent = await db.selectFrom('projects').selectAll().where('id', '=', parentId).executeTakeFirst()
    if (!parent) {
      parentIsDomain = !!(await db.selectFrom('domains').select('id').where('id', '=', parentId).executeTakeFirst())
      if (!parentIsDomain) throw badRequest(`Could not find project: ${parentId}.`)
    }
  }
  // The domain: as given; else the parent's; else the caller's token domain, its project's
  // domain, or the Default domain.
  const domainId = (p.domain_id as string | null | undefined) || parent?.domain_id || (parentIsDomain ? parentId : undefined) ||
    req.ctx.domainId || req.ctx.projectDomainId || 'default'
  const domain = await db.selectFrom('domains').selectAll().where('id', '=', domainId).executeTakeFirst()
  if (!domain) throw badRequest(`Could not find domain: ${domainId}.`)
  if (parentIsDomain && parentId !== domainId) {
    throw badRequest(`Cannot create project, the parent (${parentId}) is acting as a domain, but this project's ` +
      `domain id (${domainId}) does not match the parent's id.`)
  }
  if (parent && parent.domain_id !== domainId) {
    throw badRequest(`Cannot create project, since it specifies its domain_id ${domainId}, but specifies a parent ` +
      `in a different domain (${parent.domain_id}).`)
  }
  // The whole branch above must be enabled, the domain included, and not too deep.
  const branch = parent ? [parent, ...(await ancestorsOf(db, parent))] : []
  for (const b of branch) {
    if (!b.enabled) throw badRequest(`cannot create a project in a branch containing a disabled project: ${b.id}`)
  }
  if (!domain.enabled) throw badRequest(`cannot create a project in a branch containing a disabled project: ${domain.id}`)
  if (branch.length + 1 > MAX_PROJECT_DEPTH) throw forbidden(`Max hierarchy depth reached for ${parent!.id} branch.`)

  const row: ProjectRow = {
    id: newId(), name: p.name.trim(), domain_id: domainId, parent_id: parent?.id ?? null,
    description: (p.description as string | null | undefined) ?? '', enabled: p.enabled === false ? 0 : 1, is_domain: 0,
    extra: JSON.stringify({ ...extrasOf(p, PROJECT_KEYS, true), options: mergeOptions({}, p.options as OptionsIn | undefined) }),
    created_at: new Date(c.clock.now()).toISOString(),
  }
  const tags = normalizeTags((p.tags as string[] | undefined) ?? [])
  try {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('projects').values(row).execute()
      await replaceTags(trx, row.id, tags)
    })
  } catch (err) {
    if (isUniqueViolation(err)) throw projectConflict(row.name, row.id)
    throw err
  }
  c.changed()
  return row
}

/** Keystone's update_project for a regular project. */
async function updateProject(c: IdentityCtx, cur: ProjectRow, body: Body): Promise<ProjectRow> {
  const extra = parseJson(cur.extra)
  const options = (extra.options as Record<string, unknown> | undefined) ?? {}
  checkImmutableUpdate('project', cur.id, options, body)
  if ('domain_id' in body && body.domain_id !== cur.domain_id) throw badRequest('Cannot change Domain ID')
  if ('parent_id' in body && body.parent_id !== (cur.parent_id ?? cur.domain_id)) {
    throw forbidden('Update of `parent_id` is not allowed.')
  }
  if ('is_domain' in body && body.is_domain !== false) throw badRequest('Update of `is_domain` is not allowed.')
  const next: ProjectRow = { ...cur }
  if (typeof body.name === 'string') next.name = body.name.trim()
  if (body.description !== undefined) next.description = (body.description as string | null) ?? ''
  if (typeof body.enabled === 'boolean') next.enabled = body.enabled ? 1 : 0
  if (!cur.enabled && next.enabled) {
    const disabled = (await ancestorsOf(c.db, cur)).some((a) => !a.enabled) ||
      !(await c.db.selectFrom('domains').select('enabled').where('id', '=', cur.domain_id).executeTakeFirst())?.enabled
    if (disabled) throw forbidden(`Cannot enable project ${cur.id} since it has disabled parents`)
  }
  if (cur.enabled && !next.enabled && (await subtreeOf(c.db, { projectId: cur.id })).some((p) => p.enabled)) {
    throw forbidden(`Cannot disable project ${cur.id} since its subtree contains enabled projects.`)
  }
  const newExtra = { ...extra, ...extrasOf(body, PROJECT_KEYS, false) }
  if (body.options !== undefined) newExtra.options = mergeOptions(options, body.options as OptionsIn)
  next.extra = JSON.stringify(newExtra)
  const tags = body.tags === undefined ? undefined : normalizeTags(body.tags as string[])
  try {
    await c.db.transaction().execute(async (trx) => {
      await trx.updateTable('projects').set({ name: next.name, description: next.description, enabled: next.enabled, extra: next.extra })
        .where('id', '=', cur.id).execute()
      if (tags) await replaceTags(trx, cur.id, tags)
    })
  } catch (err) {
    if (isUniqueViolation(err)) throw projectConflict(next.name, cur.id)
    throw err
  }
  if (cur.enabled && !next.enabled) await c.revocations.revoke({ projectId: cur.id })
  c.changed()
  return next
}

/** Deletes a leaf project with its assignments and tags, and revokes tokens scoped to it. */
async function deleteProject(c: IdentityCtx, cur: ProjectRow): Promise<void> {
  checkImmutableDelete('project', cur.id, resourceOptions({ kind: 'project', row: cur }))
  if (await hasChildren(c.db, cur.id)) {
    throw forbidden(`Cannot delete the project ${cur.id} since it is not a leaf in the hierarchy. ` +
      'Use the cascade option if you want to delete a whole subtree.')
  }
  await c.db.transaction().execute((trx) => deleteProjects(trx, [cur.id]))
  await c.revocations.revoke({ projectId: cur.id })
  c.changed()
}

/**
 * `?parents_as_list`, `?parents_as_ids`, `?subtree_as_list`, `?subtree_as_ids` on
 * GET /v3/projects/{id}. The lists hold only projects the caller has a role on (as
 * Keystone filters them); the id trees are whole and reach up to the domain.
 */
async function expandHierarchy(c: IdentityCtx, req: FastifyRequest, r: Resource, out: Record<string, unknown>): Promise<void> {
  const q = req.query as Record<string, unknown>
  const [pl, pi, sl, si] = ['parents_as_list', 'parents_as_ids', 'subtree_as_list', 'subtree_as_ids'].map((f) => queryFlag(q, f))
  if (pl && pi) throw badRequest('Cannot use parents_as_list and parents_as_ids query params at the same time.')
  if (sl && si) throw badRequest('Cannot use subtree_as_list and subtree_as_ids query params at the same time.')
  if (!pl && !pi && !sl && !si) return
  let reachable: Set<string> | undefined
  const mine = async () => (reachable ??= new Set((await projectsForUser(c.db, req.ctx.userId)).map((p) => p.id)))
  const wrap = async (rows: ProjectRow[]) => {
    const tags = await tagsOf(c.db, rows.map((p) => p.id))
    return rows.map((p) => ({ project: projectView(req, p, tags.get(p.id) ?? []) }))
  }
  if (pl || pi) {
    const parents = r.kind === 'project' ? await ancestorsOf(c.db, r.row) : []
    if (pl) {
      const ok = await mine()
      out.parents = await wrap(parents.filter((p) => ok.has(p.id)))
    } else if (r.kind === 'project') {
      // Innermost is the domain, the top of every project hierarchy.
      let tree: Record<string, unknown> = { [r.row.domain_id]: null }
      for (const p of [...parents].reverse()) tree = { [p.id]: tree }
      out.parents = tree
    } else {
      out.parents = null
    }
  }
  if (sl || si) {
    const subtree = await subtreeOf(c.db, r.kind === 'project' ? { projectId: r.row.id } : { domainId: r.row.id })
    if (sl) {
      const ok = await mine()
      out.subtree = await wrap(subtree.filter((p) => ok.has(p.id)))
    } else {
      const children = new Map<string, ProjectRow[]>()
      for (const p of subtree) {
        const key = p.parent_id ?? p.domain_id
        const l = children.get(key)
        if (l) l.push(p); else children.set(key, [p])
      }
      const build = (id: string): Record<string, unknown> | null => {
        const kids = children.get(id)
        if (!kids) return null
        return Object.fromEntries(kids.map((k) => [k.id, build(k.id)]))
      }
      out.subtree = build(r.row.id)
    }
  }
}
