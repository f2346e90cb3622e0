// The cloud's Swift pipeline, in Swift's order (proxy-server.conf's [pipeline:main]): a request
// passes these from the first to the last, then reaches the controllers. The order matters as in
// Swift: bulk and tempurl come first; formpost and staticweb answer before the quotas check
// writes; copy sits left of slo/dlo so a copied manifest is read whole; slo and dlo sit left of
// versioning so segments and manifests are versioned as plain objects.
import type { Middleware } from './pipeline.ts'

/** Options of the pipeline's middlewares. */
export interface PipelineOptions {
  /** Extra registrations (tests); appended after the defaults. */
  extra?: readonly Middleware[]
}

/** The default pipeline. */
export function defaultMiddlewares(o: PipelineOptions = {}): Middleware[] {
  return [
    // <cors>
    // <bulk>
    // <tempurl>
    // <formpost>
    // <staticweb>
    // <copy>
    // <container-quotas>
    // <account-quotas>
    // <slo>
    // <dlo>
    // <versioned-writes>
    ...(o.extra ?? []),
  ]
}
