import type { FastifyRequest } from 'fastify'
import { sql } from 'kysely'
import type { IdentityCtx } from '../context.ts'
import { tagsOf } from '../projects-store.ts'
import { parseJson, queryBool } from './common.ts'
import { domainProjectView, projectView } from './views.ts'

// GET /v3/projects: Keystone's filters (domain_id, enabled, name, parent_id, is_domain) and
// the tag filters of the API-WG tags guideline, done in SQL for projects. Domains (projects
// acting as domains) are listed only when `is_domain=true` is asked for, as in Keystone.

/** The query string of GET /v3/projects. */
export interface ProjectQuery {
  domain_id?: string
  enabled?: string
  name?: string
  parent_id?: string
  is_domain?: string
  tags?: string
  'tags-any'?: string
  'not-tags'?: string
  'not-tags-any'?: string
}

const splitTags = (s: string): string[] => [...new Set(s.split(',').map((t) => t.trim()).filter((t) => t !== ''))]

export async function listProjects(c: IdentityCtx, req: FastifyRequest, q: ProjectQuery): Promise<object[]> {
  const enabled = q.enabled === undefined ? undefined : (queryBool(q.enabled) ?? true)
  const isDomain = q.is_domain === undefined ? false : (queryBool(q.is_domain) ?? true)
  const all = q.tags === undefined ? undefined : splitTags(q.tags)
  const any = q['tags-any'] === undefined ? undefined : splitTags(q['tags-any'])
  const notAll = q['not-tags'] === undefined ? undefined : splitTags(q['not-tags'])
  const notAny = q['not-tags-any'] === undefined ? undefined : splitTags(q['not-tags-any'])
  // A domain-scoped caller sees only its domain's projects (Keystone filters the same way).
  const scopeDomain = req.ctx.domainId

  if (isDomain) {
    // Projects acting as domains have no domain and no parent: those filters match none.
    if (q.domain_id !== undefined || q.parent_id !== undefined || scopeDomain) return []
    let sel = c.db.selectFrom('domains').selectAll()
    if (q.name !== undefined) sel = sel.where('name', '=', q.name)
    if (enabled !== undefined) sel = sel.where('enabled', '=', enabled ? 1 : 0)
    const rows = (await sel.orderBy('name').execute()).filter((d) => {
      const tags = new Set((parseJson(d.extra).tags as string[] | undefined) ?? [])
      return (!all || all.every((t) => tags.has(t))) && (!any || any.some((t) => tags.has(t))) &&
        (!notAll || !notAll.every((t) => tags.has(t))) && (!notAny || !notAny.some((t) => tags.has(t)))
    })
    return rows.map((d) => domainProjectView(req, d))
  }

  let sel = c.db.selectFrom('projects').selectAll()
  if (q.domain_id !== undefined) sel = sel.where('domain_id', '=', q.domain_id)
  if (scopeDomain) sel = sel.where('domain_id', '=', scopeDomain)
  if (q.name !== undefined) sel = sel.where('name', '=', q.name)
  if (enabled !== undefined) sel = sel.where('enabled', '=', enabled ? 1 : 0)
  if (q.parent_id !== undefined) {
    // A top-level project's parent is its domain.
    const parent = q.parent_id
    sel = sel.where((eb) => eb.or([
      eb('parent_id', '=', parent),
      eb.and([eb('parent_id', 'is', null), eb('domain_id', '=', parent)]),
    ]))
  }
  // Projects carrying every one of `tags`: as many distinct matching tags as were asked for.
  const withAll = (tags: string[]) => c.db.selectFrom('project_tags').select('project_id')
    .where('tag', 'in', tags).groupBy('project_id').having(sql<number>`count(distinct tag)`, '=', tags.length)
  const withAny = (tags: string[]) => c.db.selectFrom('project_tags').select('project_id').where('tag', 'in', tags)
  if (all) sel = all.length === 0 ? sel : sel.where('id', 'in', withAll(all))
  if (any) sel = any.length === 0 ? sel.where(sql<boolean>`1 = 0`) : sel.where('id', 'in', withAny(any))
  if (notAll && notAll.length > 0) sel = sel.where('id', 'not in', withAll(notAll))
  if (notAny && notAny.length > 0) sel = sel.where('id', 'not in', withAny(notAny))
  const rows = await sel.orderBy('name').orderBy('id').execute()
  const tags = await tagsOf(c.db, rows.map((p) => p.id))
  return rows.map((p) => projectView(req, p, tags.get(p.id) ?? []))
}
