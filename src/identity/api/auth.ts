import { Type } from 'typebox'
import { CloudError, forbidden } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import type { AuthRequest, AuthService } from '../auth-service.ts'
import type { IdentityCtx } from '../context.ts'
import { effectiveRoles } from '../effective-roles.ts'
import { projectsForUser, tagsOf } from '../projects-store.ts'
import { scopeCatalog } from '../catalog.ts'
import { listLinks, queryBool } from './common.ts'
import { domainView, projectView } from './views.ts'

const Scoped = Type.Object({ id: Type.Optional(Type.String()), name: Type.Optional(Type.String()),
  domain: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), name: Type.Optional(Type.String()) })) })

// Keystone's auth schema: identity.methods required; other keys are checked by the methods.
const AuthBody = Type.Object({
  auth: Type.Object({
    identity: Type.Object({
      methods: Type.Array(Type.String()),
      password: Type.Optional(Type.Object({
        user: Type.Object({
          id: Type.Optional(Type.String()), name: Type.Optional(Type.String()),
          password: Type.String(),
          domain: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), name: Type.Optional(Type.String()) })),
        }),
      })),
      token: Type.Optional(Type.Object({ id: Type.String() })),
      application_credential: Type.Optional(Type.Object({
        id: Type.Optional(Type.String()), name: Type.Optional(Type.String()), secret: Type.String(),
        user: Type.Optional(Scoped),
      })),
    }),
    scope: Type.Optional(Type.Union([Type.Literal('unscoped'), Type.Object({
      project: Type.Optional(Scoped),
      domain: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), name: Type.Optional(Type.String()) })),
      system: Type.Optional(Type.Object({ all: Type.Optional(Type.Boolean()) })),
      'OS-TRUST:trust': Type.Optional(Type.Object({ id: Type.Optional(Type.String()) })),
    })])),
  }),
})

const TokenQuery = Type.Object({
  nocatalog: Type.Optional(Type.String()),
  allow_expired: Type.Optional(Type.String()),
})

/**
 * `/v3/auth/*`: issue, validate, check and revoke tokens; the token's own catalog and scopes.
 */
export function authRoutes(api: Api, c: IdentityCtx, auth: AuthService): void {
  api.post('/v3/auth/tokens', { schema: { body: AuthBody, querystring: TokenQuery }, config: { public: true } }, async (req, reply) => {
    const body = req.body as { auth: AuthRequest }
    const issued = await auth.authenticate(body.auth)
    const out = issued.body as { token: Record<string, unknown> }
    if (queryBool((req.query as { nocatalog?: string }).nocatalog)) delete out.token.catalog
    reply.code(201).header('x-subject-token', issued.id)
    c.log.info({ user: issued.payload.userId, methods: issued.payload.methods }, 'token issued')
    return out
  })

  const subjectTarget = async (req: any) => {
    const subject = req.headers['x-subject-token']
    if (typeof subject !== 'string' || !subject) throw new CloudError('NotFound', 'Could not find token: X-Subject-Token header missing.')
    const allow = queryBool(req.query?.allow_expired) === true
    const p = await auth.subject(subject, allow)
    return { token: { user_id: p.userId } }
  }

  api.head('/v3/auth/tokens', { config: { policy: 'identity:check_token', target: subjectTarget } }, async (req, reply) => {
    const allow = queryBool((req.query as any).allow_expired) === true
    try { await auth.validateFull(req.headers['x-subject-token'] as string, { catalog: false, allowExpired: allow }) } catch {
      throw new CloudError('NotFound', 'Could not find token.')
    }
    reply.code(200).send()
  })

  api.get('/v3/auth/tokens', { schema: { querystring: TokenQuery }, config: { policy: 'identity:validate_token', target: subjectTarget } }, async (req, reply) => {
    const q = req.query as { nocatalog?: string; allow_expired?: string }
    const subject = req.headers['x-subject-token'] as string
    let out
    try {
      out = await auth.validateFull(subject, { catalog: queryBool(q.nocatalog) !== true, allowExpired: queryBool(q.allow_expired) === true })
    } catch (e) {
      if (e instanceof CloudError && e.status === 401) throw new CloudError('NotFound', 'Could not find token.')
      throw e
    }
    reply.header('x-subject-token', subject)
    return out.body
  })

  api.delete('/v3/auth/tokens', { config: { policy: 'identity:revoke_token', target: subjectTarget } }, async (req, reply) => {
    await auth.revoke(req.headers['x-subject-token'] as string)
    reply.code(204).send()
  })

  api.get('/v3/auth/catalog', { config: { policy: 'identity:get_auth_catalog' } }, async (req) => {
    if (!req.ctx.projectId && !req.ctx.domainId && !req.ctx.system) {
      throw forbidden('A scoped token is required to produce a service catalog.')
    }
    return { catalog: scopeCatalog(await auth.catalog(), req.ctx.projectId), links: listLinks(req) }
  })

  api.get('/v3/auth/projects', { config: { policy: 'identity:get_auth_projects' } }, async (req) => {
    // The projects the caller holds a role on (direct, group, inherited), in two queries.
    const rows = (await projectsForUser(c.db, req.ctx.userId)).filter((p) => p.enabled)
    const off = new Set((await c.db.selectFrom('domains').select('id').where('enabled', '=', 0).execute()).map((d) => d.id))
    const visible = rows.filter((p) => !off.has(p.domain_id)).sort((a, b) => a.name.localeCompare(b.name))
    const tags = await tagsOf(c.db, visible.map((p) => p.id))
    return { projects: visible.map((p) => projectView(req, p, tags.get(p.id) ?? [])), links: listLinks(req) }
  })

  api.get('/v3/auth/domains', { config: { policy: 'identity:get_auth_domains' } }, async (req) => {
    // Domains on which the caller (or one of its groups) holds a direct domain role.
    const groups = c.db.selectFrom('user_groups').select('group_id').where('user_id', '=', req.ctx.userId)
    const rows = await c.db.selectFrom('domains').selectAll().where('enabled', '=', 1)
      .where('id', 'in', c.db.selectFrom('assignments').select('target_id').where('inherited', '=', 0).where((eb) => eb.or([
        eb.and([eb('type', '=', 'UserDomain'), eb('actor_id', '=', req.ctx.userId)]),
        eb.and([eb('type', '=', 'GroupDomain'), eb('actor_id', 'in', groups)]),
      ])))
      .orderBy('name').execute()
    return { domains: rows.map((d) => domainView(req, d)), links: listLinks(req) }
  })

  api.get('/v3/auth/system', { config: { policy: 'identity:get_auth_system' } }, async (req) => {
    const roles = await effectiveRoles(c.db, req.ctx.userId, { system: true })
    return { system: roles.length > 0 ? [{ all: true }] : [], links: listLinks(req) }
  })
}
