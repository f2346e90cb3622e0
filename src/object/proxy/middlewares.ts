// The cloud's Swift pipeline, in Swift's order (proxy-server.conf's [pipeline:main]): a request
// passes these from the first to the last, then reaches the controllers. The order matters as in
// Swift: bulk and tempurl come first; formpost and staticweb answer before the quotas check
// writes; copy sits left of slo/dlo so a copied manifest is read whole; slo and dlo sit left of
// versioning so segments and manifests are versioned as plain objects.
import type { Middleware } from './pipeline.ts'
import { copyMiddleware } from './copy.ts'
import { sloMiddleware } from './slo.ts'
import { dloMiddleware } from './dlo.ts'
import { bulk } from './bulk.ts'
import { staticweb } from './staticweb.ts'
import { accountQuotas, containerQuotas } from './quotas.ts'
import { corsMiddleware } from './cors.ts'
import { containerSync } from './container-sync.ts'
import { versionedWrites } from './versioned-writes.ts'
import { objectVersioning } from './object-versioning.ts'
import { tempurl } from './tempurl.ts'
import { formpost } from './formpost.ts'

/** Options of the pipeline's middlewares. */
export interface PipelineOptions {
  /** Extra registrations (tests); appended after the defaults. */
  extra?: readonly Middleware[]
}

/** The default pipeline. */
export function defaultMiddlewares(o: PipelineOptions = {}): Middleware[] {
  return [
    corsMiddleware(),
    containerSync(),
    ...bulk(),
    tempurl(),
    formpost(),
    staticweb(),
    copyMiddleware(),
    containerQuotas(),
    accountQuotas(),
    sloMiddleware(),
    dloMiddleware(),
    versionedWrites(), objectVersioning(),
    ...(o.extra ?? []),
  ]
}
