import type { Kysely } from 'kysely'
import type { Clock } from '../core/clock.ts'
import type { Engine } from '../core/db/index.ts'
import type { Logger } from '../core/log.ts'
import type { PolicyEngine } from '../core/policy.ts'
import type { ComputeSchema } from './schema.ts'

/** Everything the compute service's parts share. */
export interface ComputeCtx {
  db: Kysely<ComputeSchema>
  engine: Engine
  clock: Clock
  log: Logger
  policy: PolicyEngine
}
