import { randomUUID } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { CloudError } from '../../core/errors.ts'

/** Keystone ids: uuid4 hex without dashes. */
export const newId = (): string => randomUUID().replace(/-/g, '')

/** The URL the client used to reach us, for `links` (honours X-Forwarded-* from a proxy). */
export function baseUrl(req: FastifyRequest): string {
  const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0] ?? req.protocol
  const host = (req.headers['x-forwarded-host'] as string | undefined) ?? req.headers.host ?? 'localhost'
  return `${proto}://${host}`
}

/** `{ self: <base>/v3<path> }` for a resource. */
export function selfLink(req: FastifyRequest, path: string): { self: string } {
  return { self: `${baseUrl(req)}/v3${path}` }
}

/** The `links` object of a collection. */
export function listLinks(req: FastifyRequest): { self: string; previous: null; next: null } {
  return { self: `${baseUrl(req)}${req.url}`, previous: null, next: null }
}

export const toBool = (n: number | boolean | null | undefined): boolean => n === 1 || n === true

/** Parses a JSON TEXT column holding an object; bad data reads as {}. */
export function parseJson<T = Record<string, unknown>>(text: string | null | undefined): T {
  if (!text) return {} as T
  try { return JSON.parse(text) as T } catch { return {} as T }
}

/** Keystone's 404 text: "Could not find user: abc." */
export function notFoundError(kind: string, id: string): CloudError {
  return new CloudError('NotFound', `Could not find ${kind}: ${id}.`)
}

/** Keystone's 409 text for duplicates. */
export function duplicateError(kind: string, detail: string): CloudError {
  return new CloudError('Conflict', `Conflict occurred attempting to store ${kind} - Duplicate entry found with ${detail}.`)
}

/**
 * Query parameters as Keystone reads booleans: "true"/"True"/"1"/"" are true, "false"/"0" false.
 * Returns undefined when absent.
 */
export function queryBool(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined
  const s = String(v).toLowerCase()
  if (s === '' || s === 'true' || s === '1' || s === 'yes') return true
  if (s === 'false' || s === '0' || s === 'no') return false
  return undefined
}

/** Splits a JSON object into known columns and `extra` (Keystone keeps unknown attributes). */
export function splitExtra<T extends Record<string, unknown>>(body: T, known: readonly string[]): { extra: Record<string, unknown> } {
  const extra: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) if (!known.includes(k)) extra[k] = v
  return { extra }
}

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 255 }) })

/** Names may not be empty or only whitespace (Keystone's parameter_types.name). */
export const Name = Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' })
export const Description = Type.Union([Type.String(), Type.Null()])
export const Enabled = Type.Boolean()
