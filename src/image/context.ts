import type { Kysely } from 'kysely'
import type { AuthContext } from '../core/auth.ts'
import type { Clock } from '../core/clock.ts'
import type { Engine } from '../core/db/index.ts'
import type { Logger } from '../core/log.ts'
import type { PolicyEngine } from '../core/policy.ts'
import type { ImageConfig } from './config.ts'
import type { ImageSchemas } from './image-schema.ts'
import type { Caller } from './images-store.ts'
import { ImagePolicy } from './policy.ts'
import type { ImageSchema } from './schema.ts'
import type { ImageStore } from './store/image-store.ts'

/** Everything the image service's parts share. */
export interface ImageCtx {
  db: Kysely<ImageSchema>
  engine: Engine
  clock: Clock
  log: Logger
  policy: PolicyEngine
  config: ImageConfig
  schemas: ImageSchemas
  /** Where image data lives. */
  store: ImageStore
  /** Where `PUT /stage` keeps data until it is imported (Glance's node_staging_uri). */
  staging: ImageStore
  /** Imports running in the background; close() waits for them. */
  jobs: Set<Promise<unknown>>
}

/** One API call: who makes it, its request id, and its policy checks. */
export interface Req {
  auth: AuthContext
  requestId: string
  policy: ImagePolicy
  caller: Caller
}

/** Builds the per-request view of the caller. */
export function requestOf(c: ImageCtx, auth: AuthContext, requestId: string): Req {
  const policy = new ImagePolicy(c.policy, auth)
  return { auth, requestId, policy, caller: { project: auth.projectId, admin: policy.isAdmin } }
}

/** The current time as the ISO string rows store. */
export const nowIso = (c: ImageCtx): string => new Date(c.clock.now()).toISOString()

/** Runs `work` in the background, logging failures and tracking it for close(). */
export function spawn(c: ImageCtx, what: string, work: () => Promise<void>): void {
  const p = work().catch((err) => c.log.error({ err }, `${what} failed`)).finally(() => c.jobs.delete(p))
  c.jobs.add(p)
}
