import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { AuthContext } from '../../core/auth.ts'
import { isUniqueViolation } from '../../core/db/index.ts'
import { badRequest, forbidden, notFound } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import { assertUnrestricted } from '../app-credentials-store.ts'
import { extraOf, normalizeKeys, requireMatchingId, validationError } from '../catalog-store.ts'
import type { IdentityCtx } from '../context.ts'
import {
  EC2, credentialView, ec2View, hashAccessKey, newEc2Keys, parseEc2Blob,
} from '../credentials-store.ts'
import type { CredentialRow } from '../schema.ts'
import { IdParams, duplicateError, listLinks, newId, notFoundError, parseJson } from './common.ts'

// /v3/credentials (keystone/api/credentials.py) and the OS-EC2 API under
// /v3/users/{user_id}/credentials/OS-EC2 (keystone/api/users.py). Both see the same rows.
// Blobs hold secrets: nothing here logs a body or a blob.

const CredProps = {
  blob: Type.String(),
  project_id: Type.Union([Type.String(), Type.Null()]),
  type: Type.String(),
  user_id: Type.String(),
}
// Keystone keeps unknown attributes of a credential as extra.
const CredCreate = Type.Object({
  credential: Type.Object({ ...CredProps, id: Type.Optional(Type.String()), project_id: Type.Optional(CredProps.project_id) }),
})
const CredUpdate = Type.Object({
  credential: Type.Object({ blob: Type.Optional(CredProps.blob), project_id: Type.Optional(CredProps.project_id),
    type: Type.Optional(CredProps.type), user_id: Type.Optional(CredProps.user_id) }, { minProperties: 1 }),
})
const CredQuery = Type.Object({ user_id: Type.Optional(Type.String()), type: Type.Optional(Type.String()) })
const Ec2Create = Type.Object({ tenant_id: Type.Optional(Type.Union([Type.String(), Type.Null()])) })
const UserParams = Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 255 }) })
const Ec2Params = Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 255 }), access: Type.String({ minLength: 1, maxLength: 255 }) })

type Body = Record<string, unknown>
const COLUMNS = ['id', 'user_id', 'project_id', 'type', 'blob'] as const
const isEc2 = (type: unknown) => typeof type === 'string' && type.toLowerCase() === EC2

/**
 * Keystone's `_check_credential_project_scope`: a delegated token (here: one obtained with an
 * application credential) reaches only credentials of the project it is scoped to.
 */
function delegationAllows(ctx: AuthContext, projectId: string | null | undefined): boolean {
  return !ctx.applicationCredentialId || (projectId ?? null) === (ctx.projectId ?? null)
}
function assertDelegation(ctx: AuthContext, projectId: string | null | undefined, what: string): void {
  if (!delegationAllows(ctx, projectId)) {
    throw forbidden(`You are not authorized to perform the requested action: ${what} project does not match the project scope of the delegated token.`)
  }
}

export function credentialRoutes(api: Api, c: IdentityCtx): void {
  const db = c.db
  const byId = (id: string) => db.selectFrom('credentials').selectAll().where('id', '=', id).executeTakeFirst()

  async function load(id: string): Promise<CredentialRow> {
    const row = await byId(id)
    if (!row) throw notFoundError('credential', id)
    return row
  }
  async function assertUser(id: string): Promise<void> {
    if (!(await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst())) throw notFoundError('user', id)
  }
  async function assertProject(id: string | null | undefined): Promise<void> {
    if (id && !(await db.selectFrom('projects').select('id').where('id', '=', id).executeTakeFirst())) throw notFoundError('project', id)
  }
  async function insert(row: CredentialRow): Promise<void> {
    try {
      await db.insertInto('credentials').values(row).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateError('credential', `ID ${row.id}`)
      throw err
    }
  }
  // The policy target of the routes that name a credential: the stored one (none: {} and
  // the rule decides, as Keystone's _build_target_enforcement).
  const credentialTarget = async (req: FastifyRequest) => {
    const row = await byId((req.params as { id: string }).id)
    return row ? { credential: row } : {}
  }

  // ------------------------------------------------------------------ /v3/credentials

  api.get('/v3/credentials', {
    schema: { querystring: CredQuery },
    config: {
      policy: 'identity:list_credentials',
      target: (req) => (req.ctx.system ? {} : { credential: { user_id: req.ctx.userId } }),
    },
  }, async (req) => {
    const q = req.query as { user_id?: string; type?: string }
    let sel = db.selectFrom('credentials').selectAll().orderBy('created_at').orderBy('id')
    if (q.user_id !== undefined) sel = sel.where('user_id', '=', q.user_id)
    if (q.type !== undefined) sel = sel.where('type', '=', q.type)
    // Everyone sees only the credentials they could read one by one (their own, unless admin).
    const rows = (await sel.execute()).filter((r) =>
      c.policy.check('identity:get_credential', req.ctx, { credential: r }) && delegationAllows(req.ctx, r.project_id))
    return { credentials: rows.map((r) => credentialView(req, r)), links: listLinks(req) }
  })

  api.post('/v3/credentials', {
    schema: { body: CredCreate },
    config: { policy: 'identity:create_credential', target: (req) => ({ credential: (req.body as { credential: Body }).credential }) },
  }, async (req, reply) => {
    const cr = normalizeKeys((req.body as { credential: Body }).credential)
    const projectId = (cr.project_id as string | null | undefined) ?? null
    let blob = cr.blob as string
    let id = newId()
    if (isEc2(cr.type)) {
      await assertUnrestricted(db, req.ctx, 'credentials')
      if (!projectId) throw validationError('project_id', 'credential')
      const parsed = parseEc2Blob(blob)
      // EC2 credentials are found by their access key: the id is its sha256.
      id = hashAccessKey(String(parsed.access))
      if (req.ctx.applicationCredentialId) {
        // So that tokens made from this credential carry the application credential's limits.
        blob = JSON.stringify({ ...parsed, app_cred_id: req.ctx.applicationCredentialId })
      }
    }
    assertDelegation(req.ctx, projectId, 'Credential')
    await assertUser(cr.user_id as string)
    await assertProject(projectId)
    const row: CredentialRow = {
      id, user_id: cr.user_id as string, project_id: projectId, type: cr.type as string, blob,
      extra: JSON.stringify(extraOf(cr, COLUMNS)), created_at: new Date(c.clock.now()).toISOString(),
    }
    await insert(row)
    c.log.info({ credential: id, user: row.user_id, type: row.type }, 'credential created')
    reply.code(201)
    return { credential: credentialView(req, row) }
  })

  api.get('/v3/credentials/:id', {
    schema: { params: IdParams },
    config: { policy: 'identity:get_credential', target: credentialTarget },
  }, async (req) => {
    const row = await load((req.params as { id: string }).id)
    assertDelegation(req.ctx, row.project_id, 'Credential')
    return { credential: credentialView(req, row) }
  })

  api.patch('/v3/credentials/:id', {
    schema: { params: IdParams, body: CredUpdate },
    config: { policy: 'identity:update_credential', target: credentialTarget },
  }, async (req) => {
    const { id } = req.params as { id: string }
    const cur = await load(id)
    assertDelegation(req.ctx, cur.project_id, 'Credential')
    const cr = (req.body as { credential: Body }).credential
    if (isEc2(cur.type) && cr.blob !== undefined) {
      // The scope an EC2 credential was bound to cannot be changed or removed.
      const next = parseEc2Blob(cr.blob)
      const old = parseJson<Body>(cur.blob)
      for (const k of ['trust_id', 'app_cred_id', 'access_token_id', 'access_id']) {
        if ((old[k] ?? null) !== (next[k] ?? null)) throw badRequest(`${k} can not be updated for credential`)
      }
    }
    requireMatchingId(cr, id)
    const merged: CredentialRow = {
      ...cur,
      user_id: (cr.user_id as string | undefined) ?? cur.user_id,
      project_id: 'project_id' in cr ? (cr.project_id as string | null) : cur.project_id,
      type: (cr.type as string | undefined) ?? cur.type,
      blob: (cr.blob as string | undefined) ?? cur.blob,
      extra: JSON.stringify({ ...parseJson(cur.extra), ...extraOf(cr, COLUMNS) }),
    }
    // The owner and scope may change only to what the caller could have created.
    c.policy.enforce('identity:update_credential', req.ctx, { credential: merged })
    assertDelegation(req.ctx, merged.project_id, 'Credential')
    if (isEc2(merged.type)) {
      if (!merged.project_id) throw validationError('project_id', 'credential')
      if (cr.blob !== undefined && !isEc2(cur.type)) parseEc2Blob(cr.blob)
    }
    if (merged.user_id !== cur.user_id) await assertUser(merged.user_id)
    if (merged.project_id !== cur.project_id) await assertProject(merged.project_id)
    await db.updateTable('credentials').set({ user_id: merged.user_id, project_id: merged.project_id, type: merged.type,
      blob: merged.blob, extra: merged.extra }).where('id', '=', id).execute()
    return { credential: credentialView(req, merged) }
  })

  api.delete('/v3/credentials/:id', {
    schema: { params: IdParams },
    config: { policy: 'identity:delete_credential', target: credentialTarget },
  }, async (req, reply) => {
    const row = await load((req.params as { id: string }).id)
    assertDelegation(req.ctx, row.project_id, 'Credential')
    await db.deleteFrom('credentials').where('id', '=', row.id).execute()
    reply.code(204).send()
  })

  // ------------------------------------------------------------------ OS-EC2

  // The EC2 credential named by the access key in the path; 404 when there is none (Keystone
  // looks it up while building the policy target, so the 404 comes before the policy check).
  async function ec2Credential(req: FastifyRequest): Promise<CredentialRow> {
    const { user_id: userId, access } = req.params as { user_id: string; access: string }
    const id = hashAccessKey(access)
    const row = await byId(id)
    if (!row) throw notFoundError('credential', id)
    if (row.type !== EC2 || row.user_id !== userId) throw notFound('EC2 access key not found.')
    return row
  }
  const ec2Target = async (req: FastifyRequest) => ({ credential: await ec2Credential(req) })

  api.get('/v3/users/:user_id/credentials/OS-EC2', {
    schema: { params: UserParams },
    config: { policy: 'identity:ec2_list_credentials', target: (req) => ({ user_id: (req.params as { user_id: string }).user_id }) },
  }, async (req) => {
    const { user_id: userId } = req.params as { user_id: string }
    await assertUser(userId)
    const rows = await db.selectFrom('credentials').selectAll().where('user_id', '=', userId).where('type', '=', EC2)
      .orderBy('created_at').orderBy('id').execute()
    return {
      credentials: rows.filter((r) => delegationAllows(req.ctx, r.project_id)).map((r) => ec2View(req, r)),
      links: listLinks(req),
    }
  })

  api.post('/v3/users/:user_id/credentials/OS-EC2', {
    schema: { params: UserParams, body: Ec2Create },
    config: {
      policy: 'identity:ec2_create_credential',
      target: (req) => {
        const userId = (req.params as { user_id: string }).user_id
        return { user_id: userId, credential: { user_id: userId } }
      },
    },
  }, async (req, reply) => {
    const { user_id: userId } = req.params as { user_id: string }
    await assertUnrestricted(db, req.ctx, 'application credentials')
    await assertUser(userId)
    const projectId = (req.body as { tenant_id?: string | null } | undefined)?.tenant_id
    if (!projectId) throw badRequest('Expecting to find tenant_id in request body. The server could not comply with the ' +
      'request since it is either malformed or otherwise incorrect. The client is assumed to be in error.')
    await assertProject(projectId)
    assertDelegation(req.ctx, projectId, 'EC2 credential')
    const keys = newEc2Keys()
    const row: CredentialRow = {
      id: hashAccessKey(keys.access), user_id: userId, project_id: projectId, type: EC2,
      blob: JSON.stringify({ access: keys.access, secret: keys.secret, trust_id: null }),
      extra: '{}', created_at: new Date(c.clock.now()).toISOString(),
    }
    await insert(row)
    c.log.info({ credential: row.id, user: userId, project: projectId }, 'EC2 credential created')
    reply.code(201)
    return { credential: ec2View(req, row) }
  })

  api.get('/v3/users/:user_id/credentials/OS-EC2/:access', {
    schema: { params: Ec2Params },
    config: { policy: 'identity:ec2_get_credential', target: ec2Target },
  }, async (req) => {
    const row = await ec2Credential(req)
    assertDelegation(req.ctx, row.project_id, 'EC2 credential')
    return { credential: ec2View(req, row) }
  })

  api.delete('/v3/users/:user_id/credentials/OS-EC2/:access', {
    schema: { params: Ec2Params },
    config: { policy: 'identity:ec2_delete_credential', target: ec2Target },
  }, async (req, reply) => {
    const row = await ec2Credential(req)
    assertDelegation(req.ctx, row.project_id, 'EC2 credential')
    await db.deleteFrom('credentials').where('id', '=', row.id).execute()
    reply.code(204).send()
  })
}
