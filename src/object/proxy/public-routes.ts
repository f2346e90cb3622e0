// The proxy's two routes outside the Swift API: /healthcheck (Swift's healthcheck middleware, for
// load balancers) and /crossdomain.xml (Swift's crossdomain middleware, the policy file Flash
// and Silverlight clients fetch before talking to another domain).
import type { Api } from '../../core/http/app.ts'

/** Options of the public routes. */
export interface PublicRouteOptions {
  /** The <allow-access-from …/> lines of the cross-domain policy (Swift's cross_domain_policy). */
  crossDomainPolicy?: string
}

const DEFAULT_POLICY = '<allow-access-from domain="*" secure="false" />'

/** The cross-domain policy document. */
export function crossDomainXml(policy = DEFAULT_POLICY): string {
  return '<?xml version="1.0"?>\n<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >\n' +
    `<cross-domain-policy>\n${policy}\n</cross-domain-policy>`
}

/** /info sections of these routes. */
export function publicRouteInfo(): Record<string, unknown> {
  return { crossdomain: {} }
}

/** Registers GET/HEAD /healthcheck and /crossdomain.xml. */
export function publicRoutes(api: Api, o: PublicRouteOptions = {}): void {
  const xml = crossDomainXml(o.crossDomainPolicy)
  api.route({
    method: ['GET', 'HEAD'], url: '/healthcheck', config: { public: true }, exposeHeadRoute: false,
    handler: async (_req, reply) => reply.type('text/plain').send('OK'),
  })
  api.route({
    method: ['GET', 'HEAD'], url: '/crossdomain.xml', config: { public: true }, exposeHeadRoute: false,
    handler: async (_req, reply) => reply.type('application/xml; charset=UTF-8').send(xml),
  })
}
