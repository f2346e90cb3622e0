import type { Kysely } from 'kysely'
import type { IdentitySchema, RevocationRow } from './schema.ts'

/** What a token carries that revocation events can match. */
export interface TokenFacts {
  userId: string
  userDomainId: string
  projectId?: string
  projectDomainId?: string
  domainId?: string
  auditIds: string[]
  issuedAt: number
  appCredId?: string
}

export interface RevokeEvent {
  auditId?: string
  userId?: string
  projectId?: string
  domainId?: string
  roleId?: string
  appCredId?: string
}

/**
 * Revocation events, held in memory and indexed so a validation costs a few map look-ups.
 * Every event is also persisted; `refresh()` picks up events written by other controllers.
 * An event matches a token issued at or before the event's time when every field it names
 * matches the token (Keystone's revoke model).
 */
export class Revocations {
  private lastId = 0
  private readonly byAudit = new Map<string, number>()
  private readonly byUser = new Map<string, RevocationRow[]>()
  private readonly byProject = new Map<string, RevocationRow[]>()
  private readonly byDomain = new Map<string, RevocationRow[]>()
  private readonly byAppCred = new Map<string, number>()

  constructor(private readonly db: Kysely<IdentitySchema>, private readonly now: () => number,
              private readonly onChange: () => void = () => {}) {}

  /** Loads events newer than the last one seen (at start, and periodically when split). */
  async refresh(): Promise<void> {
    const rows = await this.db.selectFrom('revocation_events').selectAll()
      .where('id', '>', this.lastId).orderBy('id').execute()
    for (const r of rows) this.index(r)
  }

  /** Records an event; tokens it matches are invalid from now on. */
  async revoke(ev: RevokeEvent): Promise<void> {
    // issued_before is a little in the future so a token issued in this same millisecond
    // (before the write committed) is covered too.
    const now = this.now()
    const row: RevocationRow = {
      audit_id: ev.auditId ?? null, user_id: ev.userId ?? null, project_id: ev.projectId ?? null,
      domain_id: ev.domainId ?? null, role_id: ev.roleId ?? null, app_cred_id: ev.appCredId ?? null,
      issued_before: new Date(now + 1).toISOString(), revoked_at: new Date(now).toISOString(),
    }
    const res = await this.db.insertInto('revocation_events').values(row).returning('id').executeTakeFirst()
    this.index({ ...row, id: Number(res?.id ?? 0) })
    this.onChange()
  }

  /** True when some event revokes the token. */
  isRevoked(t: TokenFacts): boolean {
    for (const a of t.auditIds) if (this.byAudit.has(a)) return true
    if (t.appCredId) {
      const b = this.byAppCred.get(t.appCredId)
      if (b !== undefined && t.issuedAt <= b) return true
    }
    if (this.matchList(this.byUser.get(t.userId), t)) return true
    if (t.projectId && this.matchList(this.byProject.get(t.projectId), t)) return true
    for (const d of [t.userDomainId, t.projectDomainId, t.domainId]) {
      if (d && this.matchList(this.byDomain.get(d), t)) return true
    }
    return false
  }

  private matchList(list: RevocationRow[] | undefined, t: TokenFacts): boolean {
    if (!list) return false
    for (const e of list) {
      if (t.issuedAt > Date.parse(e.issued_before)) continue
      if (e.user_id && e.user_id !== t.userId) continue
      if (e.project_id && e.project_id !== t.projectId) continue
      if (e.domain_id && ![t.userDomainId, t.projectDomainId, t.domainId].includes(e.domain_id)) continue
      return true
    }
    return false
  }

  private index(r: RevocationRow): void {
    this.lastId = Math.max(this.lastId, Number(r.id ?? 0))
    const before = Date.parse(r.issued_before)
    if (r.audit_id) { this.byAudit.set(r.audit_id, before); return }
    if (r.app_cred_id) { this.byAppCred.set(r.app_cred_id, Math.max(before, this.byAppCred.get(r.app_cred_id) ?? 0)); return }
    const push = (m: Map<string, RevocationRow[]>, k: string) => {
      const l = m.get(k); if (l) l.push(r); else m.set(k, [r])
    }
    if (r.user_id) push(this.byUser, r.user_id)
    else if (r.project_id) push(this.byProject, r.project_id)
    else if (r.domain_id) push(this.byDomain, r.domain_id)
  }
}
