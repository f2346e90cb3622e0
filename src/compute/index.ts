// The compute service (Nova v2.1, catalog type `compute`): version discovery, microversions,
// flavors, key pairs, limits, quota sets and quota classes. Servers and the rest of Nova are not built yet
// and are not routed. The only file other folders import.
import type { Kysely } from 'kysely'
import type { TokenValidator } from '../core/auth.ts'
import { migrate } from '../core/db/index.ts'
import { type Api, createApi } from '../core/http/app.ts'
import type { Core } from '../core/index.ts'
import type { ComputeCtx } from './context.ts'
import { FlavorService } from './flavors.ts'
import { GlanceClient } from './clients/glance.ts'
import { HostWatch } from './instances.ts'
import { KeyPairService } from './keypairs.ts'
import { microversionHooks } from './microversion.ts'
import { computeRules } from './policy.ts'
import { QuotaService } from './quotas.ts'
import { type ComputeSchema, computeMigrations } from './schema.ts'
import { flavorExtraRoutes } from './api/flavor-extras.ts'
import { FlavorViews, flavorRoutes } from './api/flavors.ts'
import { keypairRoutes } from './api/keypairs.ts'
import { quotaClassRoutes, quotaRoutes } from './api/quotas.ts'
import { versionRoutes } from './api/versions.ts'
import { serverRules } from './server-policy.ts'
import { ServerService } from './servers.ts'
import { serverRoutes } from './api/servers.ts'
import { serverMetadataRoutes } from './api/server-metadata.ts'
import { serverTagRoutes } from './api/server-tags.ts'
import { agentRoutes } from './api/agent.ts'
import { aroundServerRoutes } from './api/around-servers.ts'
import { Conductor } from './conductor.ts'

export { MAX_VERSION as COMPUTE_MAX_VERSION, MIN_VERSION as COMPUTE_MIN_VERSION } from './microversion.ts'
export { ComputeAgent, type ComputeAgentOptions, type TokenProvider, passwordTokenProvider } from './agent/index.ts'

/** Options of the compute service. */
export interface ComputeOptions {
  /** Validates X-Auth-Token (identity's validator, in-process or remote). */
  auth: TokenValidator
  /** The database schema (default `compute`); tests use a fresh one per run. */
  schema?: string
  /** Glance's endpoint (the catalog's `image` URL, without /v2), for image checks and snapshots. */
  imageUrl: string
}

/** The running compute service. */
export interface Compute {
  /** The Nova v2.1 API (port 8774 in all-in-one), routes under /v2.1. */
  api: Api
  ctx: ComputeCtx
  flavors: FlavorService
  /** The scheduling loop; the servers API calls `conductor.wake()` after inserting servers (also on ctx.conductor). */
  conductor: Conductor
  close(): Promise<void>
}

/** Builds the compute service on the core: migrations, default policies, routes. */
export async function createCompute(core: Core, o: ComputeOptions): Promise<Compute> {
  const schema = o.schema ?? 'compute'
  await migrate(core.db, schema, computeMigrations)
  core.policy.register(computeRules)
  core.policy.register(serverRules)
  const ctx: ComputeCtx = {
    db: core.db.schema<ComputeSchema>(schema) as Kysely<ComputeSchema>,
    engine: core.db.engine, clock: core.clock, log: core.log.child({ svc: 'compute' }), policy: core.policy,
    watch: new HostWatch(), glance: new GlanceClient(o.imageUrl),
  }
  const flavors = new FlavorService(ctx)
  const quotas = new QuotaService(ctx)
  const keypairs = new KeyPairService(ctx, quotas)
  const api = createApi({ name: 'compute', dialect: 'nova', log: core.log, policy: core.policy, auth: () => o.auth })
  microversionHooks(api)
  const P = '/v2.1'
  versionRoutes(api)
  flavorRoutes(api, ctx, flavors, new FlavorViews(ctx, flavors), P)
  flavorExtraRoutes(api, ctx, flavors, P)
  keypairRoutes(api, ctx, keypairs, P)
  quotaRoutes(api, ctx, quotas, P)
  quotaClassRoutes(api, quotas, P)
  const servers = new ServerService(ctx, quotas)
  serverRoutes(api, ctx, servers, quotas, P)
  serverMetadataRoutes(api, ctx, servers, quotas, P)
  serverTagRoutes(api, ctx, servers, P)
  agentRoutes(api, ctx)
  aroundServerRoutes(api, ctx, quotas, P)
  const conductor = new Conductor(ctx)
  ctx.conductor = conductor
  conductor.start()
  return { api, ctx, flavors, conductor, async close() { await conductor.stop(); await api.close() } }
}
