// Container ACLs and Keystone authorization, as Swift's middleware/acl.py and keystoneauth.py:
// who may do what to AUTH_<project> accounts, their containers and objects.
import { type AccountAcls, accountAclLevel } from './account-acl.ts'
import { SwiftError } from './errors.ts'

/**
 * Swift's clean_acl: normalizes an X-Container-Read/-Write value ("bob , .ref:*" → "bob,.r:*");
 * 400 for a referrer in a write ACL, an empty referrer or an unknown ".designator".
 */
export function cleanAcl(headerName: string, value: string): string {
  const name = headerName.toLowerCase()
  const out: string[] = []
  for (const raw of value.split(',')) {
    const v = raw.trim()
    if (!v) continue
    const colon = v.indexOf(':')
    if (colon < 0) { out.push(v); continue }
    const first = v.slice(0, colon).trim()
    let second = v.slice(colon + 1).trim()
    if (!first || !first.startsWith('.')) { out.push(v); continue }
    if (!['.r', '.ref', '.referer', '.referrer'].includes(first)) {
      throw SwiftError.text(400, `Unknown designator '${first}' in ACL: '${v}'`)
    }
    if (name.includes('write')) throw SwiftError.text(400, `Referrers not allowed in write ACL: '${v}'`)
    let negate = false
    if (second.startsWith('-')) { negate = true; second = second.slice(1).trim() }
    if (second && second !== '*' && second.startsWith('*')) second = second.slice(1).trim()
    if (!second || second === '.') throw SwiftError.text(400, `No host/domain value after referrer designation in ACL: '${v}'`)
    out.push(`.r:${negate ? '-' : ''}${second}`)
  }
  return out.join(',')
}

/** A parsed (v1) ACL: referrer designations without ".r:", and groups (project:user, roles, .rlistings). */
export interface ParsedAcl { referrers: string[]; groups: string[] }

/** Swift's parse_acl_v1. */
export function parseAcl(acl: string | undefined): ParsedAcl {
  const referrers: string[] = []
  const groups: string[] = []
  if (acl) {
    for (const v of acl.split(',')) {
      if (v.startsWith('.r:')) referrers.push(v.slice(3))
      else groups.push(safeDecode(v))
    }
  }
  return { referrers, groups }
}

function safeDecode(s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

/** Swift's referrer_allowed: rules apply in order; "-host" denies, ".domain" matches subdomains. */
export function referrerAllowed(referer: string | undefined, referrers: readonly string[]): boolean {
  if (!referrers.length) return false
  let rhost = 'unknown'
  try { rhost = new URL(referer ?? '').hostname || 'unknown' } catch { /* not a URL: unknown */ }
  let allow = false
  for (let m of referrers) {
    if (m.startsWith('-')) {
      m = m.slice(1)
      if (m === rhost || (m.startsWith('.') && rhost.endsWith(m))) allow = false
    } else if (m === '*' || m === rhost || (m.startsWith('.') && rhost.endsWith(m))) {
      allow = true
    }
  }
  return allow
}

/** The caller as keystoneauth sees it (from the validated token). */
export interface SwiftIdentity {
  userId: string
  userName: string
  userDomainId: string
  projectId?: string
  projectName?: string
  projectDomainId?: string
  roles: readonly string[]
}

/** keystoneauth's options. */
export interface KeystoneAuthOptions {
  /** Account prefix (reseller_prefix). Default "AUTH_". */
  resellerPrefix: string
  /** Roles that own their project's account (operator_roles). */
  operatorRoles: readonly string[]
  /** Role with access to every account (reseller_admin_role). */
  resellerAdminRole: string
  /** Roles that may read their project's account (project_reader_roles). */
  projectReaderRoles: readonly string[]
  /** Roles that may read every account (system_reader_roles). */
  systemReaderRoles: readonly string[]
  /** Domain whose names may appear in ACLs (default_domain_id). */
  defaultDomainId: string
}

/** Defaults: Swift's keystoneauth with this cloud's roles (member and admin own their project's account). */
export const DEFAULT_KEYSTONE_AUTH: KeystoneAuthOptions = {
  resellerPrefix: 'AUTH_', operatorRoles: ['admin', 'member'], resellerAdminRole: 'ResellerAdmin',
  projectReaderRoles: [], systemReaderRoles: [], defaultDomainId: 'default',
}

/** What is being accessed: the request line, its Referer, and the container ACL that applies. */
export interface AccessRequest {
  method: string
  account: string
  container?: string
  obj?: string
  referer?: string
  /** X-Container-Read for reads, X-Container-Write for object writes; undefined otherwise. */
  acl?: string
  /** The account's X-Account-Access-Control, when it has one. */
  accountAcl?: AccountAcls
}

/** The decision: allowed (as owner, when `owner`), or denied with 401 (anonymous) / 403. */
export type AccessDecision = { allowed: true; owner: boolean } | { allowed: false; status: 401 | 403 }

const ALLOW: AccessDecision = { allowed: true, owner: false }
const OWNER: AccessDecision = { allowed: true, owner: true }

/** Referrer access (_authorize_unconfirmed_identity): true/false when decided, undefined otherwise. */
function referrerAccess(r: AccessRequest, acl: ParsedAcl): boolean | undefined {
  if (!referrerAllowed(r.referer, acl.referrers)) return undefined
  return !!r.obj || acl.groups.includes('.rlistings')
}

/** keystoneauth's authorize for a caller with a validated token, then the account ACL. */
export function authorizeIdentity(id: SwiftIdentity, r: AccessRequest, o: KeystoneAuthOptions = DEFAULT_KEYSTONE_AUTH): AccessDecision {
  const d = keystoneDecision(id, r, o)
  if (d.allowed || !r.accountAcl) return d
  return accountAclDecision(id, r, o) ?? d
}

/**
 * tempauth's X-Account-Access-Control check (consulted once keystoneauth has refused): admin
 * grantees are owners; read-write ones may do anything to containers and objects but only read
 * the account; read-only ones may only read. Grantees match as in container ACLs.
 */
function accountAclDecision(id: SwiftIdentity, r: AccessRequest, o: KeystoneAuthOptions): AccessDecision | undefined {
  const acls = r.accountAcl!
  const isRead = r.method === 'GET' || r.method === 'HEAD'
  const allowNames = namesAllowed(id, r, o)
  const ownProject = !!id.projectId && r.account === o.resellerPrefix + id.projectId
  const roles = id.roles.map((x) => x.toLowerCase())
  const level = accountAclLevel(acls, (grantees) => matchCrossTenant(id, grantees, allowNames) ||
    (ownProject && grantees.some((g) => !g.includes(':') && roles.includes(g.toLowerCase()))))
  if (level === 'admin') return r.method === 'DELETE' && !r.container ? undefined : OWNER
  if (level === 'read-write' && (r.container !== undefined || isRead)) return ALLOW
  if (level === 'read-only' && isRead) return ALLOW
  return undefined
}

function keystoneDecision(id: SwiftIdentity, r: AccessRequest, o: KeystoneAuthOptions): AccessDecision {
  const deny: AccessDecision = { allowed: false, status: 403 }
  const roles = id.roles.map((x) => x.toLowerCase())
  const acl = parseAcl(r.acl)
  if (roles.includes(o.resellerAdminRole.toLowerCase())) return OWNER
  const isRead = r.method === 'GET' || r.method === 'HEAD'
  if (isRead && o.systemReaderRoles.some((x) => roles.includes(x.toLowerCase()))) return ALLOW
  // Nobody but a reseller admin deletes an account.
  if (!r.container && !r.obj && r.method === 'DELETE') return deny
  if (acl.groups.length && matchCrossTenant(id, acl.groups, namesAllowed(id, r, o))) return ALLOW
  const byReferrer = referrerAccess(r, acl)
  if (byReferrer) return ALLOW
  if (!id.projectId || r.account !== o.resellerPrefix + id.projectId) return deny
  if (o.operatorRoles.some((x) => roles.includes(x.toLowerCase()))) return OWNER
  if (isRead && o.projectReaderRoles.some((x) => roles.includes(x.toLowerCase()))) return ALLOW
  if (byReferrer === false) return deny
  // A role named in the ACL grants access to anyone in the project holding it.
  const aclRoles = acl.groups.map((g) => g.toLowerCase())
  if (roles.some((x) => aclRoles.includes(x))) return ALLOW
  return deny
}

/** keystoneauth's authorize_anonymous: only a referrer ACL lets a caller without a token in. */
export function authorizeAnonymous(r: AccessRequest, o: KeystoneAuthOptions = DEFAULT_KEYSTONE_AUTH): AccessDecision {
  if (!r.account.startsWith(o.resellerPrefix)) return { allowed: false, status: 401 }
  return referrerAccess(r, parseAcl(r.acl)) ? ALLOW : { allowed: false, status: 401 }
}

/**
 * Names (not only ids) may match in ACLs when the user and its project are in the default
 * domain and the account is that project's (_is_name_allowed_in_acl; accounts of other projects
 * are assumed to be in the default domain, as Swift does for accounts without a domain record).
 */
function namesAllowed(id: SwiftIdentity, _r: AccessRequest, o: KeystoneAuthOptions): boolean {
  if (id.userDomainId && id.userDomainId !== o.defaultDomainId) return false
  if (id.projectDomainId && id.projectDomainId !== o.defaultDomainId) return false
  return true
}

/** _authorize_cross_tenant: "<project>:<user>" with ids, names (when allowed) or "*" on either side. */
function matchCrossTenant(id: SwiftIdentity, groups: readonly string[], allowNames: boolean): boolean {
  const tenants = [id.projectId ?? '', '*']
  const users = [id.userId, '*']
  if (allowNames) { tenants.push(id.projectName ?? ''); users.push(id.userName) }
  for (const t of tenants) for (const u of users) if (groups.includes(`${t}:${u}`)) return true
  return false
}

/** Convenience: the decision for a caller that may be anonymous. */
export function authorize(id: SwiftIdentity | undefined, r: AccessRequest, o: KeystoneAuthOptions = DEFAULT_KEYSTONE_AUTH): AccessDecision {
  return id ? authorizeIdentity(id, r, o) : authorizeAnonymous(r, o)
}
