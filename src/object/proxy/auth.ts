// Authentication for the Swift API. Requests carry a Keystone token in X-Auth-Token, validated
// by the same TokenValidator every Cumulo service uses (createApi's hook); keystoneauth's rules
// (acl.ts) then decide. For Swift's v1 auth tools (`swift -A …/auth/v1.0 -U project:user -K
// password`), GET /auth/v1.0 trades a project:user and password for a token and storage URL.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AuthContext } from '../../core/auth.ts'
import type { Api } from '../../core/http/app.ts'
import type { SwiftIdentity } from './acl.ts'
import { defaultBody } from './errors.ts'

/** The caller as keystoneauth sees it. */
export function identityOf(ctx: AuthContext): SwiftIdentity {
  return {
    userId: ctx.userId, userName: ctx.userName, userDomainId: ctx.userDomainId,
    projectId: ctx.projectId, projectName: ctx.projectName, projectDomainId: ctx.projectDomainId,
    roles: ctx.roles.map((r) => r.name),
  }
}

/**
 * Password authentication for v1 auth: the project and user names (Default domain) and the
 * password; a project-scoped token and its project id, or null when the credentials are wrong.
 */
export type PasswordAuthenticator = (project: string, user: string, password: string) => Promise<{ token: string; projectId: string } | null>

/** Options of the v1 auth route. */
export interface V1AuthOptions {
  authenticate: PasswordAuthenticator
  /** Account prefix of storage URLs (reseller_prefix). */
  resellerPrefix: string
  /** Base URL of storage URLs ("http://host:port"); default: from the request's Host header. */
  publicUrl?: string
}

/** Registers GET /auth/v1.0 and /auth/v1 (trailing slash too): Swift's tempauth-style token issue. */
export function v1AuthRoutes(api: Api, o: V1AuthOptions): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const h = req.headers
    const user = first(h['x-auth-user'] ?? h['x-storage-user'])
    const key = first(h['x-auth-key'] ?? h['x-storage-pass'])
    const unauthorized = () => reply.code(401).header('content-type', 'text/html; charset=UTF-8').send(defaultBody(401))
    if (!user || key === undefined) return unauthorized()
    const colon = user.indexOf(':')
    if (colon <= 0 || colon === user.length - 1) return unauthorized()
    // Header values arrive as latin-1; names are UTF-8 on the wire.
    const project = Buffer.from(user.slice(0, colon), 'latin1').toString('utf8')
    const name = Buffer.from(user.slice(colon + 1), 'latin1').toString('utf8')
    const got = await o.authenticate(project, name, Buffer.from(key, 'latin1').toString('utf8'))
    if (!got) return unauthorized()
    const base = o.publicUrl ?? `${req.protocol}://${req.headers.host ?? 'localhost'}`
    const storageUrl = `${base}/v1/${o.resellerPrefix}${got.projectId}`
    return reply.code(200).headers({
      'x-storage-url': storageUrl, 'x-auth-token': got.token, 'x-storage-token': got.token,
      'content-type': 'text/plain; charset=UTF-8',
    }).send('')
  }
  for (const url of ['/auth/v1.0', '/auth/v1']) {
    api.route({ method: 'GET', url, config: { public: true }, exposeHeadRoute: false, handler })
  }
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}
