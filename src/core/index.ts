import { type Db, openDb } from './db/index.ts'
import { type Clock, systemClock } from './clock.ts'
import { type Logger, createLogger } from './log.ts'
import { PolicyEngine } from './policy.ts'

/** What every service is built from: logging, the database, the clock, the policy engine. */
export interface Core {
  log: Logger
  db: Db
  clock: Clock
  policy: PolicyEngine
}

export interface CoreOptions {
  /** `sqlite:DIR`, `sqlite::memory:` or a postgres:// URL. */
  database: string
  logLevel?: string
  clock?: Clock
}

export function createCore(opts: CoreOptions): Core {
  return {
    log: createLogger({ level: opts.logLevel }),
    db: openDb({ url: opts.database }),
    clock: opts.clock ?? systemClock,
    policy: new PolicyEngine({}),
  }
}
