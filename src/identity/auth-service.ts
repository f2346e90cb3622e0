import type { AuthContext, TokenValidator } from '../core/auth.ts'
import { isoMicro } from '../core/clock.ts'
import { CloudError, badRequest, forbidden, notFound } from '../core/errors.ts'
import { type CatalogEntry, loadCatalog, scopeCatalog } from './catalog.ts'
import type { IdentityCtx } from './context.ts'
import { type Scope, effectiveRoles } from './effective-roles.ts'
import { verifyPassword } from './passwords.ts'
import { isLocked } from './users-store.ts'
import type { AppCredRow, ProjectRow, TrustRow, UserRow } from './schema.ts'
import type { KeyRepository } from './token-keys.ts'
import { type TokenPayload, decodeToken, encodeToken, newAuditId } from './tokens.ts'
import { type TrustGrant, trustForIssue, trustGrant } from './trust-tokens.ts'
import { consumeUse } from './trusts-store.ts'

const unauth = (msg = 'The request you have made requires authentication.') => new CloudError('Unauthorized', msg)

/** The caller as identity sees it: an AuthContext, plus the trust of a trust-scoped token. */
export interface IdentityAuthContext extends AuthContext {
  trust?: { id: string; trustorId: string; trusteeId: string; impersonation: boolean }
}

/** The token body as Keystone returns it, plus what services need to build an AuthContext. */
export interface IssuedToken {
  id: string
  payload: TokenPayload
  body: Record<string, unknown>
  ctx: IdentityAuthContext
}

/** Validated tokens, cached until the identity data changes or the token expires. */
interface CacheEntry { generation: number; ctx: IdentityAuthContext; body: Record<string, unknown> }

/** The heart of identity: authenticates, issues, validates and revokes tokens. */
export class AuthService implements TokenValidator {
  private catalogCache: { generation: number; catalog: CatalogEntry[] } | null = null
  private readonly cache = new Map<string, CacheEntry>()
  private readonly payloads = new Map<string, TokenPayload>()

  constructor(private readonly c: IdentityCtx, private readonly keys: KeyRepository) {}

  // ---------------------------------------------------------------- issue

  /** `POST /v3/auth/tokens`: the body has been validated against the auth schema. */
  async authenticate(auth: AuthRequest): Promise<IssuedToken> {
    const methods = auth.identity.methods
    if (methods.length === 0) throw badRequest('Expecting to find methods in identity.')
    const now = this.c.clock.now()
    let userId: string
    let payloadBase: Partial<TokenPayload> = {}
    let expiresAt = now + this.c.config.tokenExpiration * 1000
    let auditIds = [newAuditId()]
    let appCred: AppCredRow | undefined
    let trust: TrustRow | undefined
    let inherited: string[] = []

    if (methods.includes('password')) {
      const pw = auth.identity.password
      if (!pw?.user) throw badRequest('Expecting to find user in password.')
      userId = await this.checkPassword(pw.user)
    } else if (methods.includes('token')) {
      const t = auth.identity.token
      if (!t?.id) throw badRequest('Expecting to find id in token.')
      // Keystone: a bad token in the token method is "Failed to validate token" (404).
      const prior = await this.validatePayload(t.id).catch(() => { throw notFound('Failed to validate token') })
      if (prior.appCredId) throw new CloudError('Forbidden', 'Application credentials cannot be used to rescope a token.')
      if (prior.trustId) {
        throw forbidden('You are not authorized to perform the requested action: Using trust-scoped token to create another ' +
          'token. Create a new trust-scoped token instead.')
      }
      userId = prior.userId
      expiresAt = prior.expiresAt
      auditIds = [newAuditId(), prior.auditIds[prior.auditIds.length - 1]!]
      // Keystone: a rescoped token shows how the user first authenticated, plus `token`.
      inherited = prior.methods
      payloadBase = {}
    } else if (methods.includes('application_credential')) {
      appCred = await this.checkAppCred(auth.identity.application_credential)
      userId = appCred.user_id
      if (appCred.expires_at) expiresAt = Math.min(expiresAt, Date.parse(appCred.expires_at))
      payloadBase = { appCredId: appCred.id }
    } else {
      throw new CloudError('Unauthorized', `Attempted to authenticate with an unsupported method.`)
    }

    // Scope: explicit, else the user's default project (if it grants roles), else unscoped.
    // A trust scope is the trust's project, with the trust's roles (checked in render).
    const trustRef = typeof auth.scope === 'object' ? auth.scope['OS-TRUST:trust'] : undefined
    let scope: Scope | undefined
    if (trustRef !== undefined) {
      if (appCred) throw unauth('Application credentials cannot request a scope.')
      trust = await trustForIssue(this.c, auth.scope as Record<string, unknown>)
      if (trust.project_id) scope = { project: trust.project_id }
      // A token issued through a trust lives no longer than the trust.
      if (trust.expires_at) expiresAt = Math.min(expiresAt, Date.parse(trust.expires_at))
    } else {
      scope = await this.resolveScope(auth.scope)
    }
    if (appCred) {
      const forced: Scope = appCred.project_id ? { project: appCred.project_id } : { system: true }
      if (scope && JSON.stringify(scope) !== JSON.stringify(forced)) {
        throw unauth('Application credentials cannot request a scope.')
      }
      scope = forced
    }
    const user = await this.activeUser(userId)
    if (!scope && !auth.scope && user.default_project_id) {
      const p = await this.c.db.selectFrom('projects').selectAll().where('id', '=', user.default_project_id).executeTakeFirst()
      if (p && p.enabled && (await effectiveRoles(this.c.db, userId, { project: p.id })).length > 0) scope = { project: p.id }
    }
    const payload: TokenPayload = {
      userId, methods: [...new Set([...methods, ...inherited])].sort((a, b) => (a === 'token' ? -1 : b === 'token' ? 1 : 0)),
      issuedAt: now, expiresAt, auditIds, ...payloadBase,
      ...(scope && 'project' in scope ? { projectId: scope.project } : {}),
      ...(scope && 'domain' in scope ? { domainId: scope.domain } : {}),
      ...(scope && 'system' in scope ? { system: true } : {}),
      ...(trust ? { trustId: trust.id } : {}),
    }
    const id = encodeToken(this.keys, payload)
    const { body, ctx } = await this.render(payload, { catalog: true })
    // Keystone consumes a use only once the token has been built.
    if (trust && trust.remaining_uses !== null) await consumeUse(this.c.db, trust.id)
    return { id, payload, body, ctx }
  }

  private async checkPassword(u: PasswordUser): Promise<string> {
    const user = await this.findUser(u)
    if (!user) throw unauth()
    const cfg = this.c.config
    const now = this.c.clock.now()
    if (isLocked(cfg, user, now)) throw unauth(`The account is locked for user: ${user.id}.`)
    if (!(await verifyPassword(u.password, user.password_hash))) {
      if (cfg.lockoutFailureAttempts > 0) {
        // Failures older than the lockout window start a new count (lockout_duration 0: never).
        const expired = cfg.lockoutDuration > 0 && !!user.failed_auth_at && Date.parse(user.failed_auth_at) + cfg.lockoutDuration * 1000 <= now
        await this.c.db.updateTable('users').set({
          failed_auth_count: expired ? 1 : user.failed_auth_count + 1, failed_auth_at: new Date(now).toISOString(),
        }).where('id', '=', user.id).execute()
      }
      throw unauth()
    }
    if (user.password_expires_at && Date.parse(user.password_expires_at) <= now && !optionSet(user, 'ignore_password_expiry')) {
      throw unauth(`The password is expired and needs to be changed for user: ${user.id}.`)
    }
    if (user.failed_auth_count !== 0 || !user.last_active_at) {
      await this.c.db.updateTable('users').set({ failed_auth_count: 0, failed_auth_at: null, last_active_at: new Date(now).toISOString() })
        .where('id', '=', user.id).execute()
    }
    return user.id
  }

  private async findUser(u: { id?: string; name?: string; domain?: { id?: string; name?: string } }): Promise<UserRow | undefined> {
    const db = this.c.db
    if (u.id) return db.selectFrom('users').selectAll().where('id', '=', u.id).executeTakeFirst()
    if (!u.name) throw badRequest('Expecting to find id or name in user.')
    if (!u.domain || (!u.domain.id && !u.domain.name)) throw badRequest('Expecting to find domain in user.')
    const domain = await this.findDomain(u.domain)
    if (!domain) throw unauth()
    return db.selectFrom('users').selectAll().where('name', '=', u.name).where('domain_id', '=', domain.id).executeTakeFirst()
  }

  private async findDomain(d: { id?: string; name?: string }) {
    const q = this.c.db.selectFrom('domains').selectAll()
    return d.id ? q.where('id', '=', d.id).executeTakeFirst() : q.where('name', '=', d.name ?? '').executeTakeFirst()
  }

  private async checkAppCred(a: AuthRequest['identity']['application_credential']): Promise<AppCredRow> {
    if (!a?.secret) throw badRequest('Expecting to find secret in application_credential.')
    const db = this.c.db
    let row: AppCredRow | undefined
    if (a.id) row = await db.selectFrom('application_credentials').selectAll().where('id', '=', a.id).executeTakeFirst()
    else if (a.name && a.user) {
      const user = await this.findUser(a.user)
      if (user) row = await db.selectFrom('application_credentials').selectAll()
        .where('name', '=', a.name).where('user_id', '=', user.id).executeTakeFirst()
    } else throw badRequest('Expecting to find id, or name and user, in application_credential.')
    if (!row || !(await verifyPassword(a.secret, row.secret_hash))) throw unauth()
    if (row.expires_at && Date.parse(row.expires_at) <= this.c.clock.now()) throw unauth('The application credential has expired.')
    return row
  }

  private async resolveScope(s: AuthRequest['scope']): Promise<Scope | undefined> {
    if (!s || (typeof s === 'string')) {
      if (s === 'unscoped' || !s) return undefined
    }
    if (typeof s !== 'object') return undefined
    const db = this.c.db
    if (s.project) {
      let p: ProjectRow | undefined
      if (s.project.id) p = await db.selectFrom('projects').selectAll().where('id', '=', s.project.id).executeTakeFirst()
      else if (s.project.name) {
        if (!s.project.domain || (!s.project.domain.id && !s.project.domain.name)) throw badRequest('Expecting to find domain in project.')
        const d = await this.findDomain(s.project.domain)
        if (!d) throw unauth('Could not find domain.')
        p = await db.selectFrom('projects').selectAll().where('name', '=', s.project.name).where('domain_id', '=', d.id).executeTakeFirst()
      } else throw badRequest('Expecting to find id or name in project.')
      if (!p) throw unauth(`Could not find project: ${s.project.id ?? s.project.name}.`)
      return { project: p.id }
    }
    if (s.domain) {
      if (!s.domain.id && !s.domain.name) throw badRequest('Expecting to find id or name in domain.')
      const d = await this.findDomain(s.domain)
      if (!d) throw unauth(`Could not find domain: ${s.domain.id ?? s.domain.name}.`)
      return { domain: d.id }
    }
    if (s.system) {
      if (s.system.all !== true) throw badRequest('Only system scope "all" is supported.')
      return { system: true }
    }
    return undefined
  }

  private async activeUser(userId: string): Promise<UserRow> {
    const user = await this.c.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst()
    if (!user) throw unauth()
    if (!user.enabled) throw unauth(`User ${user.id} is disabled.`)
    const dom = await this.c.db.selectFrom('domains').select('enabled').where('id', '=', user.domain_id).executeTakeFirst()
    if (!dom?.enabled) throw unauth(`Domain ${user.domain_id} is disabled.`)
    return user
  }

  // ---------------------------------------------------------------- render

  /**
   * Builds the token body from current data (names, roles, catalog). Throws 401 (on
   * issue) or 404 (on validation, via the caller) when the token no longer grants anything.
   */
  private async render(p: TokenPayload, o: { catalog: boolean }): Promise<{ body: Record<string, unknown>; ctx: IdentityAuthContext }> {
    const db = this.c.db
    const authenticated = await this.activeUser(p.userId)
    const grant: TrustGrant | undefined = p.trustId ? await trustGrant(this.c, { ...p, trustId: p.trustId }) : undefined
    // With impersonation, the token shows (and services see) the trustor as its user.
    const user = grant?.trust.impersonation ? grant.trustor : authenticated
    const userDomain = (await db.selectFrom('domains').select(['id', 'name']).where('id', '=', user.domain_id).executeTakeFirstOrThrow())
    const token: Record<string, unknown> = {
      methods: p.methods,
      user: {
        domain: { id: userDomain.id, name: userDomain.name }, id: user.id, name: user.name,
        password_expires_at: user.password_expires_at ? isoMicro(Date.parse(user.password_expires_at)) : null,
      },
      audit_ids: p.auditIds,
      expires_at: isoMicro(p.expiresAt),
      issued_at: isoMicro(p.issuedAt),
    }
    const ctx: IdentityAuthContext = {
      userId: user.id, userName: user.name, userDomainId: userDomain.id, userDomainName: userDomain.name,
      roles: [], isAdminProject: false, methods: p.methods, auditIds: p.auditIds,
      issuedAt: p.issuedAt, expiresAt: p.expiresAt,
    }
    if (grant) {
      const t = grant.trust
      token['OS-TRUST:trust'] = {
        id: t.id, impersonation: t.impersonation === 1,
        trustee_user: { id: t.trustee_user_id }, trustor_user: { id: t.trustor_user_id },
      }
      ctx.trust = { id: t.id, trustorId: t.trustor_user_id, trusteeId: t.trustee_user_id, impersonation: t.impersonation === 1 }
      if (!p.projectId) token.roles = []
    }
    let scope: Scope | undefined
    if (p.projectId) {
      const proj = await db.selectFrom('projects').selectAll().where('id', '=', p.projectId).executeTakeFirst()
      if (!proj) throw unauth(`Could not find project: ${p.projectId}.`)
      const pd = await db.selectFrom('domains').select(['id', 'name', 'enabled']).where('id', '=', proj.domain_id).executeTakeFirstOrThrow()
      if (!proj.enabled || !pd.enabled) throw unauth(`Project ${proj.id} is disabled.`)
      token.project = { domain: { id: pd.id, name: pd.name }, id: proj.id, name: proj.name }
      // Keystone's trust-scoped token body has no is_domain.
      if (!grant) token.is_domain = false
      Object.assign(ctx, { projectId: proj.id, projectName: proj.name, projectDomainId: pd.id, projectDomainName: pd.name })
      scope = { project: proj.id }
    } else if (p.domainId) {
      const d = await db.selectFrom('domains').selectAll().where('id', '=', p.domainId).executeTakeFirst()
      if (!d) throw unauth(`Could not find domain: ${p.domainId}.`)
      if (!d.enabled) throw unauth(`Domain ${d.id} is disabled.`)
      token.domain = { id: d.id, name: d.name }
      Object.assign(ctx, { domainId: d.id, domainName: d.name })
      scope = { domain: d.id }
    } else if (p.system) {
      token.system = { all: true }
      ctx.system = 'all'
      scope = { system: true }
    }
    if (scope) {
      let roles = grant ? grant.roles : await effectiveRoles(db, user.id, scope)
      if (p.appCredId) {
        const ac = await db.selectFrom('application_credentials').selectAll().where('id', '=', p.appCredId).executeTakeFirst()
        if (!ac) throw unauth('Could not find application credential.')
        const allowed = new Set((await db.selectFrom('app_cred_roles').select('role_id').where('app_cred_id', '=', ac.id).execute()).map((r) => r.role_id))
        roles = roles.filter((r) => allowed.has(r.id))
        token.application_credential = { id: ac.id, name: ac.name, restricted: !ac.unrestricted }
        ctx.applicationCredentialId = ac.id
      }
      if (roles.length === 0) {
        const what = 'project' in scope ? `project ${scope.project}` : 'domain' in scope ? `domain ${scope.domain}` : 'the system'
        throw unauth(`User ${user.id} has no access to ${what}.`)
      }
      token.roles = roles.map((r) => ({ id: r.id, name: r.name }))
      ctx.roles = roles.map((r) => ({ id: r.id, name: r.name }))
      if (o.catalog) token.catalog = scopeCatalog(await this.catalog(), p.projectId)
    }
    // An unscoped token carries no catalog at all (Keystone; Tempest checks the key is absent).
    return { body: { token }, ctx }
  }

  /** The catalog, cached until the identity data changes. */
  async catalog(): Promise<CatalogEntry[]> {
    const g = this.c.generation
    if (this.catalogCache?.generation !== g) this.catalogCache = { generation: g, catalog: await loadCatalog(this.c.db) }
    return this.catalogCache.catalog
  }

  // ---------------------------------------------------------------- validate

  /** Re-reads the token keys; tokens sealed with a removed key stop validating. */
  reloadKeys(): void {
    if (this.keys.load()) { this.payloads.clear(); this.cache.clear() }
  }

  /** Decodes and checks expiry and revocation; no database access. Throws 401. */
  private async validatePayload(token: string, allowExpired = false): Promise<TokenPayload> {
    // Decoding is pure (same token, same payload), so it is cached; expiry and revocation
    // are checked on every call.
    let p = this.payloads.get(token) ?? null
    if (!p) {
      p = decodeToken(this.keys, token)
      if (p) {
        if (this.payloads.size >= 100_000) this.payloads.clear()
        this.payloads.set(token, p)
      }
    }
    if (!p) throw unauth('The request you have made requires authentication.')
    if (!allowExpired && p.expiresAt <= this.c.clock.now()) throw unauth('The token has expired.')
    if (this.c.revocations.isRevoked(this.facts(p))) throw unauth('The token has been revoked.')
    return p
  }

  private facts(p: TokenPayload) {
    // Domain facts are filled from the cached context when present; the user's and project's
    // domains matter only for domain-wide events, which are checked again after rendering.
    return { userId: p.userId, userDomainId: '', projectId: p.projectId, domainId: p.domainId,
      auditIds: p.auditIds, issuedAt: p.issuedAt, appCredId: p.appCredId }
  }

  /** TokenValidator for every service's middleware: 401 on any invalid token. */
  async validate(token: string): Promise<AuthContext> {
    return (await this.validateFull(token, { catalog: false })).ctx
  }

  /**
   * Full validation as `GET /v3/auth/tokens` does it. Results are cached per token until
   * the identity data changes (generation) so the hot path costs one decryption.
   */
  async validateFull(token: string, o: { catalog: boolean; allowExpired?: boolean }): Promise<{ ctx: IdentityAuthContext; body: Record<string, unknown> }> {
    const p = await this.validatePayload(token, o.allowExpired)
    const key = o.catalog ? 'c' + token : token
    const hit = this.cache.get(key)
    if (hit && hit.generation === this.c.generation) return hit
    const generation = this.c.generation
    let out: { body: Record<string, unknown>; ctx: IdentityAuthContext }
    try {
      out = await this.render(p, o)
    } catch (err) {
      // 403s come from trust checks (trustor disabled, delegated roles gone): invalid too.
      if (err instanceof CloudError && (err.status === 401 || err.status === 403)) throw unauth('The request you have made requires authentication.')
      throw err
    }
    const facts = { ...this.facts(p), userDomainId: out.ctx.userDomainId, projectDomainId: out.ctx.projectDomainId }
    if (this.c.revocations.isRevoked(facts)) throw unauth('The token has been revoked.')
    // Events about the trustor also revoke tokens issued through its trusts (Keystone's
    // revoke model matches user_id against the trustor and the trustee).
    if (out.ctx.trust && this.c.revocations.isRevoked({ ...facts, userId: out.ctx.trust.trustorId })) {
      throw unauth('The token has been revoked.')
    }
    if (this.cache.size > 50_000) this.cache.clear()
    this.cache.set(key, { generation, ...out })
    return out
  }

  /** `DELETE /v3/auth/tokens`: revokes this token (and anything rescoped from it). */
  async revoke(token: string): Promise<void> {
    const p = await this.validatePayload(token).catch(() => { throw notFound('Could not find token.') })
    await this.c.revocations.revoke({ auditId: p.auditIds[0] })
    this.c.changed()
  }

  /** The payload of a token, or 404 for the subject-token routes. */
  async subject(token: string, allowExpired = false): Promise<TokenPayload> {
    try { return await this.validatePayload(token, allowExpired) } catch { throw notFound('Could not find token.') }
  }
}

function optionSet(u: UserRow, name: string): boolean {
  try { return JSON.parse(u.options)[name] === true } catch { return false }
}

export interface PasswordUser { id?: string; name?: string; domain?: { id?: string; name?: string }; password: string }

export interface AuthRequest {
  identity: {
    methods: string[]
    password?: { user: PasswordUser }
    token?: { id: string }
    application_credential?: { id?: string; name?: string; secret: string; user?: { id?: string; name?: string; domain?: { id?: string; name?: string } } }
  }
  scope?: 'unscoped' | {
    project?: { id?: string; name?: string; domain?: { id?: string; name?: string } }
    domain?: { id?: string; name?: string }
    system?: { all?: boolean }
    'OS-TRUST:trust'?: { id?: string }
  }
}
