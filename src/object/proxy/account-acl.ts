// Account ACLs (X-Account-Access-Control), as Swift's tempauth defines them and acl.py formats
// them: a version-2 ACL, JSON {"admin": [...], "read-write": [...], "read-only": [...]}, set by
// an account's owners, kept as account sysmeta (x-account-sysmeta-core-access-control) and shown
// back to owners only. Swift's keystoneauth has no account ACLs; with Keystone identities the
// grantees are written as in keystoneauth's container ACLs ("<project>:<user>", ids or, in the
// default domain, names, "*" on either side; a bare entry is a role of the account's project).

/** The account ACL header clients set and owners see. */
export const ACCOUNT_ACL_HEADER = 'x-account-access-control'
/** Where the account server keeps it (Swift's get_sys_meta_prefix('account') + 'core-access-control'). */
export const ACCOUNT_ACL_SYSMETA = 'x-account-sysmeta-core-access-control'

/** A parsed account ACL (Swift's acls_from_account_info). */
export interface AccountAcls {
  /** Grantees that act as the account's owner (swift_owner). */
  admin: readonly string[]
  /** Grantees that may read everything and write containers and objects. */
  readWrite: readonly string[]
  /** Grantees that may read (GET/HEAD) everything. */
  readOnly: readonly string[]
}

const ACL_KEYS = ['admin', 'read-write', 'read-only'] as const

/**
 * Swift's parse_acl_v2: the JSON object of a version-2 ACL; {} for an empty string; null when
 * the text is not JSON or not an object.
 */
export function parseAclV2(data: string | undefined): Record<string, unknown> | null {
  if (data === undefined) return null
  if (data === '') return {}
  try {
    const v: unknown = JSON.parse(data)
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : null
  } catch { return null }
}

/**
 * Swift's format_acl_v2: json.dumps(acl, ensure_ascii=True, separators=(',', ':'),
 * sort_keys=True), so owners read back the same bytes Swift would show.
 */
export function formatAclV2(acl: unknown): string {
  return asciiJson(acl)
}

function asciiJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(asciiJson).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort(comparePython)
    return `{${keys.map((k) => `${asciiString(k)}:${asciiJson((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  if (typeof v === 'string') return asciiString(v)
  return JSON.stringify(v) ?? 'null'
}

/** Python sorts str keys by code point; JS's default sort compares UTF-16 units. */
function comparePython(a: string, b: string): number {
  const x = [...a]
  const y = [...b]
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!
    if (d !== 0) return d
  }
  return x.length - y.length
}

/** A JSON string with every non-ASCII UTF-16 unit as \uXXXX (Python's ensure_ascii). */
function asciiString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Python's repr() of a str (for Swift's "Syntax error in input (%r)"). */
function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'"
  let out = quote
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (ch === '\\') out += '\\\\'
    else if (ch === quote) out += `\\${quote}`
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`
    else out += ch
  }
  return out + quote
}

/**
 * Checks an X-Account-Access-Control value as tempauth's extract_acl_and_report_errors: a JSON
 * object with only the three known keys, each a list of strings. Returns Swift's error text, or
 * undefined when the value is valid.
 */
export function accountAclError(value: string): string | undefined {
  const acl = parseAclV2(value)
  if (acl === null) return `Syntax error in input (${pyRepr(value)})`
  for (const key of Object.keys(acl)) {
    if (!(ACL_KEYS as readonly string[]).includes(key)) return `Key ${asciiString(key)} not recognized`
  }
  for (const key of ACL_KEYS) {
    if (!(key in acl)) continue
    const list = acl[key]
    if (!Array.isArray(list)) return `Value for key ${asciiString(key)} must be a list`
    if (!list.every((g) => typeof g === 'string')) return `Elements of ${asciiString(key)} list must be strings`
  }
  return undefined
}

/** The 400 body Swift answers an invalid X-Account-Access-Control with. */
export function accountAclErrorBody(error: string, value: string): string {
  return `X-Account-Access-Control invalid: ${error}\n\nInput: ${value}\n`
}

/**
 * The stored ACL of an account's sysmeta value (acls_from_account_info): undefined when none is
 * set, it does not parse, or every list is empty. Entries that are not strings are ignored.
 */
export function accountAclsOf(sysmeta: string | undefined): AccountAcls | undefined {
  const acl = parseAclV2(sysmeta)
  if (!acl) return undefined
  const list = (k: string): string[] => Array.isArray(acl[k]) ? (acl[k] as unknown[]).filter((g): g is string => typeof g === 'string') : []
  const out: AccountAcls = { admin: list('admin'), readWrite: list('read-write'), readOnly: list('read-only') }
  if (!out.admin.length && !out.readWrite.length && !out.readOnly.length) return undefined
  return out
}

/**
 * What owners see for a stored value (Swift's add_acls_from_sys_metadata): the ACL reformatted,
 * or undefined for none or an empty object.
 */
export function accountAclHeader(sysmeta: string | undefined): string | undefined {
  const acl = parseAclV2(sysmeta)
  return acl && Object.keys(acl).length ? formatAclV2(acl) : undefined
}

/** Which account ACL level a set of grantee strings reaches; undefined for none. */
export function accountAclLevel(acls: AccountAcls, matches: (grantees: readonly string[]) => boolean):
  'admin' | 'read-write' | 'read-only' | undefined {
  if (matches(acls.admin)) return 'admin'
  if (matches(acls.readWrite)) return 'read-write'
  if (matches(acls.readOnly)) return 'read-only'
  return undefined
}
