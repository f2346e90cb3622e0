import type { AuthContext, TokenValidator } from '../auth.ts'
import { CloudError, unauthorized } from '../errors.ts'

/** Builds an AuthContext from a Keystone v3 token body (`{ token: {...} }`). */
export function contextFromTokenBody(body: any): AuthContext {
  const t = body?.token
  if (!t?.user?.id) throw new Error('not a Keystone v3 token body')
  return {
    userId: t.user.id, userName: t.user.name, userDomainId: t.user.domain?.id, userDomainName: t.user.domain?.name,
    projectId: t.project?.id, projectName: t.project?.name,
    projectDomainId: t.project?.domain?.id, projectDomainName: t.project?.domain?.name,
    domainId: t.domain?.id, domainName: t.domain?.name,
    system: t.system?.all ? 'all' : undefined,
    roles: (t.roles ?? []).map((r: any) => ({ id: r.id, name: r.name })),
    isAdminProject: t.is_admin_project === true,
    methods: t.methods ?? [], auditIds: t.audit_ids ?? [],
    issuedAt: Date.parse(t.issued_at), expiresAt: Date.parse(t.expires_at),
    applicationCredentialId: t.application_credential?.id,
  }
}

export interface RemoteValidatorOptions {
  /** e.g. http://controller:5000/v3 */
  identityUrl: string
  /** The service user that may validate tokens (role `service` or `admin`). */
  service: { username: string; password: string; projectName: string; domainName?: string }
  /** How long a validated token is trusted before asking again (keystonemiddleware's token_cache_time). */
  cacheSeconds?: number
}

/**
 * Token validation over the identity API, for a service running apart from identity: it
 * authenticates as a service user, validates callers' tokens with `GET /v3/auth/tokens`, and
 * caches results for a short time (revocations reach it within `cacheSeconds`).
 */
export class RemoteTokenValidator implements TokenValidator {
  private serviceToken: { id: string; expiresAt: number } | null = null
  private readonly cache = new Map<string, { ctx: AuthContext; until: number }>()
  constructor(private readonly o: RemoteValidatorOptions) {}

  async validate(token: string): Promise<AuthContext> {
    const now = Date.now()
    const hit = this.cache.get(token)
    if (hit && hit.until > now) return hit.ctx
    let res = await this.ask(token, await this.token(false))
    if (res.status === 401) res = await this.ask(token, await this.token(true))
    if (res.status === 404 || res.status === 401) { this.cache.delete(token); throw unauthorized() }
    if (res.status !== 200) throw new CloudError('Unavailable', 'The identity service could not validate the token.')
    const ctx = contextFromTokenBody(await res.json())
    if (this.cache.size > 10_000) this.cache.clear()
    this.cache.set(token, { ctx, until: Math.min(ctx.expiresAt, now + (this.o.cacheSeconds ?? 300) * 1000) })
    return ctx
  }

  private ask(token: string, serviceToken: string): Promise<Response> {
    return fetch(`${this.o.identityUrl}/auth/tokens?nocatalog`, {
      headers: { 'x-auth-token': serviceToken, 'x-subject-token': token },
    })
  }

  private async token(renew: boolean): Promise<string> {
    if (!renew && this.serviceToken && this.serviceToken.expiresAt - Date.now() > 60_000) return this.serviceToken.id
    const s = this.o.service
    const domain = { name: s.domainName ?? 'Default' }
    const res = await fetch(`${this.o.identityUrl}/auth/tokens?nocatalog`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: s.username, password: s.password, domain } } },
        scope: { project: { name: s.projectName, domain } } } }),
    })
    if (res.status !== 201) throw new CloudError('Unavailable', 'This service cannot authenticate to the identity service.')
    const body = await res.json() as any
    this.serviceToken = { id: res.headers.get('x-subject-token')!, expiresAt: Date.parse(body.token.expires_at) }
    return this.serviceToken.id
  }
}
