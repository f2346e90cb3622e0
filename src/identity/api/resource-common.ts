import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Kysely } from 'kysely'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { DomainRow, IdentitySchema, ProjectRow } from '../schema.ts'
import { tagsOf } from '../projects-store.ts'
import { notFoundError, parseJson } from './common.ts'

// What /v3/domains and /v3/projects share (Keystone's "resource" service, which keeps a
// domain as a project acting as a domain): schemas, tags, options and their rules.

/** Keystone's resource names: 1–64 characters, not only whitespace. */
export const ResourceName = Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' })
export const NullableString = Type.Union([Type.String(), Type.Null()])

/** One project tag (API-WG tags guideline): 1–255 characters, no '/' or ','. */
export const Tag = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^,/]*$' })
export const MAX_TAGS = 80
export const Tags = Type.Array(Tag, { maxItems: MAX_TAGS, uniqueItems: true })

/** Resource options; `immutable` is the one Keystone registers for projects and domains. */
export const Options = Type.Object({
  immutable: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
}, { additionalProperties: false })

export type OptionsIn = { immutable?: boolean | null }

/** A project or a domain, as the projects API can address either. */
export type Resource = { kind: 'project'; row: ProjectRow } | { kind: 'domain'; row: DomainRow }

/** Finds a project, or else a domain (a project acting as a domain), by id. */
export async function loadResource(db: Kysely<IdentitySchema>, id: string): Promise<Resource | undefined> {
  const p = await db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst()
  if (p) return { kind: 'project', row: p }
  const d = await db.selectFrom('domains').selectAll().where('id', '=', id).executeTakeFirst()
  return d ? { kind: 'domain', row: d } : undefined
}

/** The project (or domain) a `/v3/projects/{project_id}…` route addresses, loaded once per request. */
const loaded = new WeakMap<FastifyRequest, Resource | undefined>()
export async function loadTarget(db: Kysely<IdentitySchema>, req: FastifyRequest): Promise<Resource | undefined> {
  if (!loaded.has(req)) loaded.set(req, await loadResource(db, (req.params as { project_id: string }).project_id))
  return loaded.get(req)
}
export async function mustLoadTarget(db: Kysely<IdentitySchema>, req: FastifyRequest): Promise<Resource> {
  const r = await loadTarget(db, req)
  if (!r) throw notFoundError('project', (req.params as { project_id: string }).project_id)
  return r
}
/** The policy target of a project route: `{ project: { id, domain_id } }` (nothing when absent). */
export async function projectTarget(db: Kysely<IdentitySchema>, req: FastifyRequest): Promise<Record<string, unknown>> {
  const r = await loadTarget(db, req)
  if (!r) return {}
  return { project: { id: r.row.id, domain_id: r.kind === 'project' ? r.row.domain_id : null } }
}

/** The tags of a project (project_tags) or of a domain (kept in its extra). */
export async function resourceTags(db: Kysely<IdentitySchema>, r: Resource): Promise<string[]> {
  if (r.kind === 'domain') return (parseJson(r.row.extra).tags as string[] | undefined) ?? []
  return (await tagsOf(db, [r.row.id])).get(r.row.id) ?? []
}

/** A resource's options as stored in its extra. */
export function resourceOptions(r: Resource): Record<string, unknown> {
  return (parseJson(r.row.extra).options as Record<string, unknown> | undefined) ?? {}
}

/** Options after an update: a null value removes the option (Keystone's resource options). */
export function mergeOptions(current: Record<string, unknown>, update: OptionsIn | undefined): Record<string, unknown> {
  const out = { ...current }
  for (const [k, v] of Object.entries(update ?? {})) {
    if (v === null || v === undefined) delete out[k]; else out[k] = v
  }
  return out
}

/**
 * Keystone's check_immutable_update: an immutable resource takes no update except one that
 * only makes it mutable again (`options.immutable` false or null, nothing else).
 */
export function checkImmutableUpdate(kind: 'project' | 'domain', id: string, current: Record<string, unknown>,
  update: Record<string, unknown>): void {
  if (current.immutable !== true) return
  const opts = update.options as OptionsIn | undefined
  const onlyUnlock = Object.keys(update).length === 1 && opts !== undefined && 'immutable' in opts &&
    (opts.immutable === false || opts.immutable === null)
  if (!onlyUnlock) {
    throw new CloudError('Forbidden', `Unable to update immutable ${kind} resource: \`${id}. ` +
      'Set resource option "immutable" to false first.')
  }
}

/** Keystone's check_immutable_delete. */
export function checkImmutableDelete(kind: 'project' | 'domain', id: string, current: Record<string, unknown>): void {
  if (current.immutable === true) {
    throw new CloudError('Forbidden', `Unable to delete immutable ${kind} resource: \`${id}. ` +
      'Set resource option "immutable" to false first.')
  }
}

/**
 * Checks a tag given in a URL (`PUT /v3/projects/{id}/tags/{tag}`) as the body schema
 * checks tags in a list.
 */
export function checkTag(tag: string): void {
  if (tag.length < 1 || tag.length > 255) throw badRequest(`Invalid input for field/attribute tag: '${tag}' must be 1 to 255 characters long.`)
  if (/[,/]/.test(tag)) throw badRequest(`Invalid input for field/attribute tag: '${tag}' may not contain '/' or ','.`)
}

/** Tags as stored: stripped of surrounding whitespace (Keystone strips), each at most once. */
export function normalizeTags(tags: string[]): string[] {
  const out = tags.map((t) => t.trim())
  const dup = out.find((t, i) => out.indexOf(t) !== i)
  if (dup !== undefined) throw badRequest(`Invalid input for field/attribute tags: the tag '${dup}' is given more than once.`)
  if (out.some((t) => t === '')) throw badRequest('Invalid input for field/attribute tags: a tag may not be empty.')
  return out
}

/**
 * Attributes outside `known` that Keystone keeps as extra attributes (returned as given).
 * On create Keystone renames ':' and '-' in their keys to '_' (_normalize_dict).
 */
export function extrasOf(body: Record<string, unknown>, known: readonly string[], normalizeKeys: boolean): Record<string, unknown> {
  const extra: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) {
    if (known.includes(k) || k === 'links') continue
    extra[normalizeKeys ? k.replace(/[:-]/g, '_') : k] = v
  }
  return extra
}

/** Keystone's 409 for a project name already used in the domain. */
export function projectConflict(name: string, id: string): CloudError {
  return new CloudError('Conflict', 'Conflict occurred attempting to store project - it is not permitted to have ' +
    `two projects with either the same name or same id in the same domain: name is ${name}, project id ${id}.`)
}

/** Keystone's 409 for a domain name already used (domains are projects acting as domains). */
export function domainConflict(name: string): CloudError {
  return new CloudError('Conflict', 'Conflict occurred attempting to store project - it is not permitted to have ' +
    `two projects acting as domains with the same name: ${name}.`)
}

/** `?flag` as Keystone's query_filter_is_true reads it: present and not '0'. */
export function queryFlag(q: Record<string, unknown>, name: string): boolean {
  return name in q && q[name] !== '0'
}
