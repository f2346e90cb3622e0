import type { FastifyRequest } from 'fastify'
import type { DomainRow, ProjectRow } from '../schema.ts'
import { parseJson, selfLink, toBool } from './common.ts'

/** A domain as Keystone shows it. */
export function domainView(req: FastifyRequest, d: DomainRow) {
  const extra = parseJson(d.extra)
  return {
    ...extra,
    id: d.id, name: d.name, description: d.description, enabled: toBool(d.enabled),
    tags: (extra.tags as string[] | undefined) ?? [], options: (extra.options as object | undefined) ?? {},
    links: selfLink(req, `/domains/${d.id}`),
  }
}

/** A project as Keystone shows it; a top-level project's parent_id is its domain. */
export function projectView(req: FastifyRequest, p: ProjectRow, tags: string[] = []) {
  const extra = parseJson(p.extra)
  const { options, ...rest } = extra as { options?: object }
  return {
    ...rest,
    id: p.id, name: p.name, domain_id: p.domain_id, description: p.description,
    enabled: toBool(p.enabled), parent_id: p.parent_id ?? p.domain_id, is_domain: toBool(p.is_domain),
    tags, options: options ?? {},
    links: selfLink(req, `/projects/${p.id}`),
  }
}

/**
 * A domain as the projects API shows it: Keystone stores a domain as a project acting as a
 * domain, so `GET /v3/projects/{domain_id}` and `?is_domain=true` list it this way.
 */
export function domainProjectView(req: FastifyRequest, d: DomainRow) {
  const { tags, options, ...rest } = parseJson(d.extra) as { tags?: string[]; options?: object }
  return {
    ...rest,
    id: d.id, name: d.name, domain_id: null, description: d.description, enabled: toBool(d.enabled),
    parent_id: null, is_domain: true, tags: tags ?? [], options: options ?? {},
    links: selfLink(req, `/projects/${d.id}`),
  }
}
