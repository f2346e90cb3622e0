import type { Kysely } from 'kysely'
import type { Clock } from '../core/clock.ts'
import type { Engine } from '../core/db/index.ts'
import type { Logger } from '../core/log.ts'
import type { PolicyEngine } from '../core/policy.ts'
import type { GlanceClient } from './clients/glance.ts'
import type { HostWatch } from './instances.ts'
import type { ComputeSchema } from './schema.ts'

/** Everything the compute service's parts share. */
export interface ComputeCtx {
  db: Kysely<ComputeSchema>
  engine: Engine
  clock: Clock
  log: Logger
  policy: PolicyEngine
  /** Wakes agents' long-polls when a host's servers change (instances.ts notify). */
  watch: HostWatch
  /** Glance, through its REST API. */
  glance: GlanceClient
  /** The conductor loop (conductor.ts): `wake()` after inserting servers to schedule; unset until createCompute starts it. */
  conductor?: { wake(): void }
}
