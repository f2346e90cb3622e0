import type { Kysely } from 'kysely'
import type { Core } from '../core/index.ts'
import { migrate } from '../core/db/index.ts'
import { type Api, createApi } from '../core/http/app.ts'
import { AuthService } from './auth-service.ts'
import { type IdentityConfig, type IdentityCtx, defaultIdentityConfig } from './context.ts'
import { identityRules } from './policy.ts'
import { Revocations } from './revocations.ts'
import { type IdentitySchema, identityMigrations } from './schema.ts'
import { KeyRepository } from './token-keys.ts'
import { appCredentialRoutes } from './api/app-credentials.ts'
import { authRoutes } from './api/auth.ts'
import { catalogRoutes } from './api/catalog.ts'
import { credentialRoutes } from './api/credentials.ts'
import { domainRoutes } from './api/domains.ts'
import { grantRoutes } from './api/grants.ts'
import { groupRoutes } from './api/groups.ts'
import { projectRoutes } from './api/projects.ts'
import { roleAssignmentRoutes } from './api/role-assignments.ts'
import { roleRoutes } from './api/roles.ts'
import { userRoutes } from './api/users.ts'
import { versionRoutes } from './api/versions.ts'
import { policyRoutes } from './api/policies.ts'
import { endpointGroupRoutes } from './api/endpoint-groups.ts'
import { consumerRoutes } from './api/consumers.ts'
import { domainConfigRoutes } from './api/domain-configs.ts'
import { trustRoutes } from './api/trusts.ts'

export type { IdentityConfig } from './context.ts'
export { bootstrapIdentity, ensureServiceUser, registerEndpoints } from './bootstrap.ts'
/** For the S3 API: the EC2 credential (user, project, secret) behind an access key. */
export { findEc2Credential } from './credentials-store.ts'

/** The identity service: its API, its token validator (for every other service), its data. */
export interface Identity {
  api: Api
  auth: AuthService
  ctx: IdentityCtx
  close(): Promise<void>
}

export interface IdentityOptions {
  config?: Partial<IdentityConfig>
  /** Where token keys live (DIR/keys/token); null keeps them in memory (tests). */
  keyDir: string | null
  /** The database schema to use (default `identity`); tests use a fresh one per run. */
  schema?: string
}

/** Builds the identity service on the core: runs migrations, loads revocations, registers routes. */
export async function createIdentity(core: Core, opts: IdentityOptions): Promise<Identity> {
  const schema = opts.schema ?? 'identity'
  await migrate(core.db, schema, identityMigrations)
  const db = core.db.schema<IdentitySchema>(schema) as Kysely<IdentitySchema>
  let generation = 0
  const revocations = new Revocations(db, () => core.clock.now(), () => { generation++ })
  await revocations.refresh()
  const ctx: IdentityCtx = {
    db, engine: core.db.engine, clock: core.clock, log: core.log.child({ svc: 'identity' }),
    config: { ...defaultIdentityConfig, ...opts.config },
    policy: core.policy, revocations,
    changed() { generation++ },
    get generation() { return generation },
  }
  core.policy.register(identityRules)
  const keys = KeyRepository.open(opts.keyDir)
  const auth = new AuthService(ctx, keys)
  const api = createApi({ name: 'identity', dialect: 'keystone', log: core.log, policy: core.policy, auth: () => auth })
  versionRoutes(api)
  authRoutes(api, ctx, auth)
  domainRoutes(api, ctx)
  projectRoutes(api, ctx)
  userRoutes(api, ctx)
  groupRoutes(api, ctx)
  roleRoutes(api, ctx)
  grantRoutes(api, ctx)
  roleAssignmentRoutes(api, ctx)
  catalogRoutes(api, ctx)
  credentialRoutes(api, ctx)
  appCredentialRoutes(api, ctx)
  policyRoutes(api, ctx)
  endpointGroupRoutes(api, ctx)
  consumerRoutes(api, ctx)
  domainConfigRoutes(api, ctx)
  trustRoutes(api, ctx)
  // With several controllers on one database, pick up their revocations and changes.
  const timer = core.db.engine === 'postgres'
    ? setInterval(() => { revocations.refresh().then(() => ctx.changed(), () => {}) }, 2000).unref()
    : undefined
  // `cumulo token-keys rotate` runs in another process: pick its keys up.
  const keyTimer = opts.keyDir ? setInterval(() => { try { auth.reloadKeys() } catch (err) { ctx.log.error({ err }, 'token keys') } }, 10_000).unref() : undefined
  return {
    api, auth, ctx,
    async close() { if (timer) clearInterval(timer); if (keyTimer) clearInterval(keyTimer); await api.close() },
  }
}
