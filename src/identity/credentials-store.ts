import { createHash, randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { badRequest } from '../core/errors.ts'
import type { CredentialRow, IdentitySchema } from './schema.ts'
import { baseUrl, parseJson, selfLink } from './api/common.ts'
import { validationError } from './catalog-store.ts'

// Credentials (/v3/credentials) and the EC2 view of them (/v3/users/{id}/credentials/OS-EC2).
// An EC2 credential is a `credentials` row of type "ec2" whose id is sha256(access) and whose
// blob is JSON {"access","secret",...}. Blobs hold secrets: never log them.

export const EC2 = 'ec2'

/** Keystone's `hash_access_key`: the id of an EC2 credential. */
export function hashAccessKey(access: string): string {
  return createHash('sha256').update(access, 'utf8').digest('hex')
}

/** What the S3 and EC2 APIs need to check a request signed with an access key. */
export interface Ec2Secret {
  userId: string
  projectId: string
  secret: string
  /** Set when the credential was created with an application-credential token: its roles limit the access. */
  appCredId?: string
}

/**
 * Looks up the EC2 credential of an access key (as Keystone's ec2tokens/s3tokens do: by
 * sha256(access)); undefined when there is none, it is not an EC2 credential, or it has no
 * project or secret.
 */
export async function findEc2Credential(db: Kysely<IdentitySchema>, access: string): Promise<Ec2Secret | undefined> {
  const row = await db.selectFrom('credentials').selectAll().where('id', '=', hashAccessKey(access)).executeTakeFirst()
  if (!row || row.type !== EC2 || !row.project_id) return undefined
  const blob = parseJson<Record<string, unknown>>(row.blob)
  if (blob.access !== access || typeof blob.secret !== 'string') return undefined
  return { userId: row.user_id, projectId: row.project_id,
    secret: blob.secret, ...(typeof blob.app_cred_id === 'string' ? { appCredId: blob.app_cred_id } : {}) }
}

/**
 * Keystone's `_validate_blob_json` for EC2 credentials: the blob must be a JSON object with
 * an `access` key.
 */
export function parseEc2Blob(blob: unknown): Record<string, unknown> {
  let parsed: unknown
  try { parsed = JSON.parse(String(blob)) } catch { throw badRequest('Invalid blob in credential') }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || Object.keys(parsed).length === 0) {
    throw validationError('blob', 'credential')
  }
  const o = parsed as Record<string, unknown>
  if (o.access === undefined || o.access === null) throw validationError('access', 'credential')
  return o
}

/** A credential as /v3/credentials shows it. */
export function credentialView(req: FastifyRequest, r: CredentialRow) {
  return {
    ...parseJson(r.extra),
    id: r.id, user_id: r.user_id, project_id: r.project_id, type: r.type, blob: r.blob,
    links: selfLink(req, `/credentials/${r.id}`),
  }
}

/** An EC2 credential as the OS-EC2 API shows it (`tenant_id` is the project). */
export function ec2View(req: FastifyRequest, r: CredentialRow) {
  const blob = parseJson<Record<string, unknown>>(r.blob)
  const access = typeof blob.access === 'string' ? blob.access : ''
  return {
    user_id: r.user_id, tenant_id: r.project_id, access, secret: blob.secret ?? null, trust_id: blob.trust_id ?? null,
    links: { self: `${baseUrl(req)}/v3/users/${r.user_id}/credentials/OS-EC2/${encodeURIComponent(access)}` },
  }
}

/** A new random access/secret pair, as Keystone makes them (uuid4 hex: 32 hex digits). */
export function newEc2Keys(): { access: string; secret: string } {
  return { access: randomBytes(16).toString('hex'), secret: randomBytes(16).toString('hex') }
}
