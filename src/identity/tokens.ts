import { randomBytes } from 'node:crypto'
import type { KeyRepository } from './token-keys.ts'

/** What a token carries; everything else (names, roles, catalog) is looked up at validation. */
export interface TokenPayload {
  userId: string
  methods: string[]
  projectId?: string
  domainId?: string
  system?: boolean
  issuedAt: number
  expiresAt: number
  /** [this token's audit id, the audit id of the token it was rescoped from]. */
  auditIds: string[]
  appCredId?: string
  /** OS-TRUST: the trust a trust-scoped token was issued through (its project is projectId). */
  trustId?: string
}

const METHODS = ['password', 'token', 'application_credential', 'totp', 'mapped', 'external']

export function newAuditId(): string { return randomBytes(16).toString('base64url') }

/** Packs a payload compactly (a JSON array) and seals it with the primary key. */
export function encodeToken(keys: KeyRepository, p: TokenPayload): string {
  let mask = 0
  for (const m of p.methods) { const i = METHODS.indexOf(m); if (i >= 0) mask |= 1 << i }
  const scope = p.projectId ? `p${p.projectId}` : p.domainId ? `d${p.domainId}` : p.system ? 's' : ''
  const arr: unknown[] = [p.userId, mask, scope, p.issuedAt, p.expiresAt, p.auditIds]
  // Optional trailing elements; tokens sealed before a new element existed still decode.
  if (p.appCredId || p.trustId) arr.push(p.appCredId ?? null)
  if (p.trustId) arr.push(p.trustId)
  return keys.seal(Buffer.from(JSON.stringify(arr)))
}

/** Unseals a token; null when it is not a genuine token of this cloud. Expiry is not checked here. */
export function decodeToken(keys: KeyRepository, token: string): TokenPayload | null {
  const plain = keys.open(token)
  if (!plain) return null
  try {
    const [userId, mask, scope, issuedAt, expiresAt, auditIds, appCredId, trustId] = JSON.parse(plain.toString())
    const methods = METHODS.filter((_, i) => (mask & (1 << i)) !== 0)
    const p: TokenPayload = { userId, methods, issuedAt, expiresAt, auditIds }
    if (typeof scope === 'string' && scope.startsWith('p')) p.projectId = scope.slice(1)
    else if (typeof scope === 'string' && scope.startsWith('d')) p.domainId = scope.slice(1)
    else if (scope === 's') p.system = true
    if (appCredId) p.appCredId = appCredId
    if (trustId) p.trustId = trustId
    return p
  } catch {
    return null
  }
}
