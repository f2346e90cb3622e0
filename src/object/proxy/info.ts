// GET /info (Swift's InfoController): what this cluster supports, public. Clients and Tempest
// gate features on it, so it lists only what is implemented: the core API and its limits.
// Each middleware of the pipeline adds its own section (tempurl, slo, bulk, …).
import type { Api } from '../../core/http/app.ts'
import { CONSTRAINTS } from './constraints.ts'
import type { ProxyPolicy } from './context.ts'
import type { Middleware } from './pipeline.ts'

/** Swift API version this proxy speaks (for /info's `version`). */
export const SWIFT_VERSION = '2.35.0'

/** The /info document. */
export function infoDocument(policies: readonly ProxyPolicy[], middlewares: readonly Middleware[] = [],
                             extra: Record<string, unknown> = {}): Record<string, unknown> {
  const sections: Record<string, unknown> = { ...extra }
  for (const m of middlewares) {
    const i = m.info?.()
    if (i) sections[m.name] = i
  }
  return {
    ...sections,
    swift: {
      version: SWIFT_VERSION,
      ...CONSTRAINTS,
      valid_api_versions: [...CONSTRAINTS.valid_api_versions],
      policies: policies.map((p) => ({ name: p.name, ...(p.isDefault ? { default: true } : {}) })),
      strict_cors_mode: true,
      allow_account_management: false,
      account_autocreate: true,
      allow_open_expired: false,
    },
  }
}

/** Registers GET/HEAD /info. */
export function infoRoutes(api: Api, policies: readonly ProxyPolicy[], middlewares: readonly Middleware[] = [],
                           extra: Record<string, unknown> = {}): void {
  const body = JSON.stringify(infoDocument(policies, middlewares, extra))
  api.route({
    method: ['GET', 'HEAD'], url: '/info', config: { public: true }, exposeHeadRoute: false,
    handler: async (_req, reply) => reply.type('application/json; charset=utf-8').send(body),
  })
}
