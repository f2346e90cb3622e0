// Readers of S3's request documents: each turns a body into typed values or throws the S3 error
// AWS answers for it (MalformedXML, MalformedACLError, InvalidArgument, InvalidRequest).
import { s3err } from './errors.ts'
import type { CorsRule, Permission } from './xml.ts'
import { all, malformed, parseDocument, text, type XmlElement } from './xml-parse.ts'

/** A part list entry of CompleteMultipartUpload. */
export interface CompletePart { partNumber: number; etag: string }

/** Strips the quotes clients put around ETags. */
export function unquoteEtag(s: string): string {
  const t = s.trim()
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t
}

function int(v: string | undefined, what: string): number {
  if (v === undefined || !/^\d{1,9}$/.test(v)) throw malformed(`${what} must be an integer`)
  return Number(v)
}

/** CompleteMultipartUpload: the parts in the order given (the caller checks the order). */
export function readCompleteMultipartUpload(src: string): CompletePart[] {
  const root = parseDocument(src, 'CompleteMultipartUpload')
  const parts = all(root, 'Part').map((p) => {
    const etag = text(p, 'ETag')
    if (etag === undefined) throw malformed('Part without ETag')
    return { partNumber: int(text(p, 'PartNumber'), 'PartNumber'), etag: unquoteEtag(etag) }
  })
  if (!parts.length) throw malformed('no Part')
  return parts
}

/** DeleteObjects (at most 1000 keys, as S3 allows). Keys are taken verbatim, whitespace included. */
export function readDelete(src: string): { quiet: boolean; objects: Array<{ key: string; versionId?: string }> } {
  const root = parseDocument(src, 'Delete')
  const quiet = (text(root, 'Quiet') ?? 'false').toLowerCase() === 'true'
  const objects = all(root, 'Object').map((o) => {
    const key = text(o, 'Key', true)
    if (key === undefined) throw malformed('Object without Key')
    const versionId = text(o, 'VersionId')
    return versionId === undefined ? { key } : { key, versionId }
  })
  if (!objects.length || objects.length > 1000) throw malformed('between 1 and 1000 Object elements are required')
  return { quiet, objects }
}

const CORS_METHODS = new Set(['GET', 'PUT', 'HEAD', 'POST', 'DELETE'])

/** PutBucketCors: 1 to 100 rules, validated as S3 validates them. */
export function readCors(src: string): CorsRule[] {
  const root = parseDocument(src, 'CORSConfiguration')
  const rules = all(root, 'CORSRule').map((r): CorsRule => {
    const texts = (name: string) => all(r, name).map((x) => x.text.trim())
    const rule: CorsRule = {
      allowedOrigins: texts('AllowedOrigin'), allowedMethods: texts('AllowedMethod'),
      allowedHeaders: texts('AllowedHeader'), exposeHeaders: texts('ExposeHeader'),
    }
    const id = text(r, 'ID')
    if (id !== undefined) rule.id = id
    const maxAge = text(r, 'MaxAgeSeconds')
    if (maxAge !== undefined) rule.maxAgeSeconds = int(maxAge, 'MaxAgeSeconds')
    if (!rule.allowedOrigins.length || !rule.allowedMethods.length) throw malformed('a CORSRule needs AllowedOrigin and AllowedMethod')
    for (const m of rule.allowedMethods) {
      if (!CORS_METHODS.has(m)) throw s3err('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`)
    }
    for (const o of rule.allowedOrigins) {
      if (o.split('*').length > 2) throw s3err('InvalidRequest', `AllowedOrigin "${o}" can not have more than one wildcard.`)
    }
    for (const h of rule.allowedHeaders) {
      if (h.split('*').length > 2) throw s3err('InvalidRequest', `AllowedHeader "${h}" can not have more than one wildcard.`)
    }
    return rule
  })
  if (!rules.length || rules.length > 100) throw malformed('between 1 and 100 CORSRule elements are required')
  return rules
}

/** A grantee as a PutAcl body names it. */
export type AclGrantee =
  | { type: 'CanonicalUser'; id: string }
  | { type: 'Group'; uri: string }
  | { type: 'AmazonCustomerByEmail'; email: string }

const PERMISSIONS = new Set<Permission>(['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'])

function grantee(g: XmlElement): AclGrantee {
  const typeAttr = Object.entries(g.attrs).find(([k]) => k === 'type' || k.endsWith(':type'))?.[1]
  const id = text(g, 'ID')
  const uri = text(g, 'URI')
  const email = text(g, 'EmailAddress')
  const type = typeAttr ?? (id ? 'CanonicalUser' : uri ? 'Group' : email ? 'AmazonCustomerByEmail' : '')
  if (type === 'CanonicalUser' && id) return { type, id }
  if (type === 'Group' && uri) return { type, uri }
  if (type === 'AmazonCustomerByEmail' && email) return { type, email }
  throw s3err('MalformedACLError', 'The XML you provided was not well-formed or did not validate against our published schema')
}

/** PutBucketAcl / PutObjectAcl body. */
export function readAccessControlPolicy(src: string): { ownerId?: string; grants: Array<{ grantee: AclGrantee; permission: Permission }> } {
  let root: XmlElement
  try {
    root = parseDocument(src, 'AccessControlPolicy')
  } catch {
    throw s3err('MalformedACLError', 'The XML you provided was not well-formed or did not validate against our published schema')
  }
  const ownerEl = root.children.find((c) => c.name === 'Owner')
  const list = root.children.find((c) => c.name === 'AccessControlList')
  if (!list) throw s3err('MalformedACLError', 'The XML you provided was not well-formed or did not validate against our published schema')
  const grants = all(list, 'Grant').map((g) => {
    const ge = g.children.find((c) => c.name === 'Grantee')
    const permission = text(g, 'Permission') as Permission | undefined
    if (!ge || !permission || !PERMISSIONS.has(permission)) {
      throw s3err('MalformedACLError', 'The XML you provided was not well-formed or did not validate against our published schema')
    }
    return { grantee: grantee(ge), permission }
  })
  const ownerId = ownerEl ? text(ownerEl, 'ID') : undefined
  return ownerId === undefined ? { grants } : { ownerId, grants }
}

/** PutBucketVersioning. */
export function readVersioning(src: string): { status?: 'Enabled' | 'Suspended'; mfaDelete?: string } {
  const root = parseDocument(src, 'VersioningConfiguration')
  const status = text(root, 'Status')
  const mfaDelete = text(root, 'MfaDelete')
  if (status !== undefined && status !== 'Enabled' && status !== 'Suspended') throw malformed('Status must be Enabled or Suspended')
  const out: { status?: 'Enabled' | 'Suspended'; mfaDelete?: string } = {}
  if (status) out.status = status
  if (mfaDelete !== undefined) out.mfaDelete = mfaDelete
  return out
}

/** CreateBucket's optional body. */
export function readCreateBucketConfiguration(src: string): { locationConstraint?: string } {
  const root = parseDocument(src, 'CreateBucketConfiguration')
  const lc = text(root, 'LocationConstraint')
  return lc ? { locationConstraint: lc } : {}
}
