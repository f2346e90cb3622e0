// Canned ACLs: the access model served. A bucket's canned ACL is kept in its metadata (`acl`),
// an object's in its sysmeta (`acl`); absent means private. Grants are rendered from the canned
// name, and an AccessControlPolicy body is accepted when it is exactly one of the canned sets;
// arbitrary grants (other users, e-mail grantees, x-amz-grant-* headers) are NotImplemented.
import { s3err } from './errors.ts'
import type { Grant, Owner } from './xml.ts'
import type { AclGrantee } from './xml-requests.ts'
import type { Permission } from './xml.ts'

/** The canned ACLs served. */
export type CannedAcl = 'private' | 'public-read' | 'public-read-write' | 'authenticated-read'

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers'
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers'

const CANNED: readonly string[] = ['private', 'public-read', 'public-read-write', 'authenticated-read']

/**
 * The canned ACL of an x-amz-acl header (undefined when absent). Objects also take the
 * bucket-owner-* ACLs, which here mean private: an object's owner is always the bucket's owner.
 */
export function cannedFromHeaders(headers: Record<string, string | string[] | undefined>, forObject: boolean): CannedAcl | undefined {
  if (Object.keys(headers).some((h) => h.startsWith('x-amz-grant-'))) {
    throw s3err('NotImplemented', 'ACL grant headers (x-amz-grant-*) are not implemented by this server; use a canned ACL (x-amz-acl).')
  }
  const v = headers['x-amz-acl']
  if (v === undefined) return undefined
  const acl = String(v).trim()
  if (CANNED.includes(acl)) return acl as CannedAcl
  if (forObject && (acl === 'bucket-owner-read' || acl === 'bucket-owner-full-control')) return 'private'
  if (acl === 'log-delivery-write' || acl === 'aws-exec-read') {
    throw s3err('NotImplemented', `The canned ACL ${acl} is not implemented by this server.`)
  }
  throw s3err('InvalidArgument', `Invalid canned ACL: ${acl}`, { ArgumentName: 'x-amz-acl', ArgumentValue: acl })
}

/** A stored ACL value back to its canned name (unknown values are treated as private). */
export function storedAcl(value: string | undefined): CannedAcl {
  return value && CANNED.includes(value) ? (value as CannedAcl) : 'private'
}

/** The grants of a canned ACL. */
export function grantsOf(acl: CannedAcl, owner: Owner): Grant[] {
  const grants: Grant[] = [{ grantee: { type: 'CanonicalUser', id: owner.id, displayName: owner.displayName }, permission: 'FULL_CONTROL' }]
  const group = (uri: string, permission: Permission): Grant => ({ grantee: { type: 'Group', uri }, permission })
  if (acl === 'public-read' || acl === 'public-read-write') grants.push(group(ALL_USERS, 'READ'))
  if (acl === 'public-read-write') grants.push(group(ALL_USERS, 'WRITE'))
  if (acl === 'authenticated-read') grants.push(group(AUTHENTICATED_USERS, 'READ'))
  return grants
}

/** The canned ACL an AccessControlPolicy amounts to; NotImplemented when it is not a canned set. */
export function cannedFromPolicy(p: { ownerId?: string; grants: Array<{ grantee: AclGrantee; permission: Permission }> },
                                 owner: Owner): CannedAcl {
  if (p.ownerId !== undefined && p.ownerId !== owner.id) throw s3err('AccessDenied', 'Access Denied')
  const key = (g: { grantee: AclGrantee; permission: Permission }) =>
    `${g.grantee.type === 'CanonicalUser' ? `user:${g.grantee.id}` : g.grantee.type === 'Group' ? `group:${g.grantee.uri}` : 'email'}:${g.permission}`
  const given = new Set(p.grants.map(key))
  for (const acl of CANNED as CannedAcl[]) {
    const want = new Set(grantsOf(acl, owner).map((g) => key({
      grantee: g.grantee.type === 'CanonicalUser' ? { type: 'CanonicalUser', id: g.grantee.id } : { type: 'Group', uri: g.grantee.uri },
      permission: g.permission,
    })))
    if (want.size === given.size && [...want].every((k) => given.has(k))) return acl
  }
  throw s3err('NotImplemented', 'Only ACLs equivalent to a canned ACL (private, public-read, public-read-write, authenticated-read) are implemented by this server.')
}

/** Whether a canned ACL lets a non-owner read or write. */
export function aclAllows(acl: CannedAcl, access: 'read' | 'write', authenticated: boolean): boolean {
  if (access === 'write') return acl === 'public-read-write'
  return acl === 'public-read' || acl === 'public-read-write' || (authenticated && acl === 'authenticated-read')
}
