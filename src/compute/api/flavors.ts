import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { bodyOf } from '../../core/http/app.ts'
import { badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { type Flavor, type FlavorService, SORT_KEYS } from '../flavors.ts'
import { atLeast } from '../microversion.ts'
import { BOOLEAN_SCHEMA, checkQueryKeys, validateBody, limitAndMarker, links, nextLinks, queryOf, strictBool, toBool } from './common.ts'

// Flavors (nova/api/openstack/compute/flavors.py, flavor_manage.py, views/flavors.py,
// schemas/flavor_manage.py): list, detail, show, create, update (2.55), delete.

const MAX_INT = 2147483647
const positive = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1, maximum: MAX_INT, minLength: 1 }
const nonNegative = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0, maximum: MAX_INT, minLength: 1 }
/** Nova's parameter_types.name: printable, no leading or trailing whitespace. */
const NAME = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?!\\s)[^\\x00-\\x1F\\x7F]*(?<!\\s)$' }
const DESCRIPTION = { type: ['string', 'null'], minLength: 0, maxLength: 65535, pattern: '^[^\\x00-\\x1F\\x7F]*$' }

function createSchema(withDescription: boolean) {
  return {
    type: 'object', required: ['flavor'], additionalProperties: false,
    properties: {
      flavor: {
        type: 'object', required: ['name', 'ram', 'vcpus', 'disk'], additionalProperties: false,
        properties: {
          name: NAME,
          id: { type: ['string', 'integer', 'null'], minLength: 1, maxLength: 255, pattern: '^(?! )[a-zA-Z0-9. _-]+(?<! )$' },
          ram: positive, vcpus: positive, disk: nonNegative,
          'OS-FLV-EXT-DATA:ephemeral': nonNegative, swap: nonNegative,
          rxtx_factor: { type: ['number', 'string'], pattern: '^[0-9]+(\\.[0-9]+)?$', exclusiveMinimum: 0, maximum: 3.40282e38 },
          'os-flavor-access:is_public': BOOLEAN_SCHEMA,
          ...(withDescription ? { description: DESCRIPTION } : {}),
        },
      },
    },
  }
}
const UPDATE_SCHEMA = {
  type: 'object', required: ['flavor'], additionalProperties: false,
  properties: { flavor: { type: 'object', required: ['description'], additionalProperties: false, properties: { description: DESCRIPTION } } },
}

interface CreateBody {
  flavor: { name: string; id?: string | number | null; ram: number | string; vcpus: number | string; disk: number | string
    'OS-FLV-EXT-DATA:ephemeral'?: number | string; swap?: number | string; rxtx_factor?: number | string
    'os-flavor-access:is_public'?: boolean | string; description?: string | null }
}

/** A number Nova's schema accepted as an integer or a string of digits (range checked here for strings). */
function int(v: number | string, field: string, min: number): number {
  const n = typeof v === 'number' ? v : Number(v)
  if (!Number.isSafeInteger(n) || n < min || n > MAX_INT) {
    throw badRequest(`Invalid input for field/attribute ${field}. Value: ${v}. ${v} is not a valid ${min ? 'positive' : 'non-negative'} integer`)
  }
  return n
}

/** Shapes flavors for the request's microversion (views/flavors.py). */
export class FlavorViews {
  constructor(private readonly c: ComputeCtx, private readonly flavors: FlavorService) {}

  /** Extra specs go in the body from 2.61, to callers allowed to read them. */
  private async specsFor(req: FastifyRequest, list: Flavor[]): Promise<Map<string, Record<string, string>> | undefined> {
    if (!atLeast(req, '2.61')) return undefined
    if (!this.c.policy.check('os_compute_api:os-flavor-extra-specs:index', req.ctx, { project_id: req.ctx.projectId })) return undefined
    return this.flavors.extraSpecs(list.map((f) => f.id))
  }

  basic(req: FastifyRequest, f: Flavor): Record<string, unknown> {
    return { id: f.id, name: f.name, ...(atLeast(req, '2.55') ? { description: f.description } : {}), links: links(req, 'flavors', f.id) }
  }

  private detail(req: FastifyRequest, f: Flavor, specs?: Record<string, string>): Record<string, unknown> {
    return {
      id: f.id, name: f.name, ram: f.ramMb, disk: f.diskGb, vcpus: f.vcpus,
      // Before 2.75 a flavor without swap shows "" (Nova's legacy quirk).
      swap: f.swapMb === 0 && !atLeast(req, '2.75') ? '' : f.swapMb,
      'OS-FLV-EXT-DATA:ephemeral': f.ephemeralGb, 'OS-FLV-DISABLED:disabled': f.disabled,
      'os-flavor-access:is_public': f.isPublic, rxtx_factor: f.rxtxFactor,
      ...(atLeast(req, '2.55') ? { description: f.description } : {}),
      ...(specs ? { extra_specs: specs } : {}),
      links: links(req, 'flavors', f.id),
    }
  }

  async one(req: FastifyRequest, f: Flavor): Promise<Record<string, unknown>> {
    const specs = await this.specsFor(req, [f])
    return this.detail(req, f, specs?.get(f.id))
  }

  async many(req: FastifyRequest, list: Flavor[]): Promise<Record<string, unknown>[]> {
    const specs = await this.specsFor(req, list)
    return list.map((f) => this.detail(req, f, specs?.get(f.id)))
  }
}

const LIST_KEYS = ['is_public', 'minRam', 'minDisk', 'sort_key', 'sort_dir', 'limit', 'marker']

export function flavorRoutes(api: Api, c: ComputeCtx, flavors: FlavorService, views: FlavorViews, P: string): void {
  async function list(req: FastifyRequest) {
    const q = queryOf(req)
    checkQueryKeys(req, q, LIST_KEYS, '2.75')
    const isAdmin = c.policy.check('context_is_admin', req.ctx)
    let isPublic: boolean | null = true
    if (isAdmin && q.is_public !== undefined) {
      if (q.is_public.toLowerCase() === 'none') isPublic = null
      else {
        const b = strictBool(q.is_public)
        if (b === undefined) throw badRequest(`Invalid is_public filter [${q.is_public}]`)
        isPublic = b
      }
    }
    const num = (name: 'minRam' | 'minDisk') => {
      const v = q[name]
      if (v === undefined) return undefined
      if (!/^\d+$/.test(v)) throw badRequest(`Invalid ${name} filter [${v}]`)
      return Number(v)
    }
    const sortKey = q.sort_key ?? 'flavorid'
    if (!(sortKey in SORT_KEYS)) throw badRequest(`Invalid sort_key provided. Supported sort keys: ${Object.keys(SORT_KEYS).join(', ')}`)
    const sortDir = (q.sort_dir ?? 'asc').toLowerCase()
    if (sortDir !== 'asc' && sortDir !== 'desc') throw badRequest(`Invalid sort_dir provided. Supported sort dirs: asc, desc`)
    const page = limitAndMarker(q)
    const found = await flavors.list(req.ctx, isAdmin, {
      isPublic, minRam: num('minRam'), minDisk: num('minDisk'), sortKey, sortDir, marker: page.marker, limit: page.limit,
    })
    return { found, q, page }
  }

  const READ = { policy: 'compute:authenticated' }
  api.get(`${P}/flavors`, { config: READ }, async (req) => {
    const { found, q, page } = await list(req)
    const next = nextLinks(req, 'flavors', q, page, found.length, found.at(-1)?.id)
    return { flavors: found.map((f) => views.basic(req, f)), ...(next ? { flavors_links: next } : {}) }
  })
  api.get(`${P}/flavors/detail`, { config: READ }, async (req) => {
    const { found, q, page } = await list(req)
    const next = nextLinks(req, 'flavors/detail', q, page, found.length, found.at(-1)?.id)
    return { flavors: await views.many(req, found), ...(next ? { flavors_links: next } : {}) }
  })
  api.get(`${P}/flavors/:id`, { config: READ }, async (req) => {
    const { id } = req.params as { id: string }
    return { flavor: await views.one(req, await flavors.get(id)) }
  })

  const create21 = createSchema(false)
  const create255 = createSchema(true)
  api.post(`${P}/flavors`, {
    config: { policy: 'os_compute_api:os-flavor-manage:create' },
    // The body's schema depends on the microversion, so it is checked in the handler.
    preValidation: async (req) => { validateBody(req, atLeast(req, '2.55') ? create255 : create21) },
  }, async (req) => {
    const f = bodyOf<CreateBody>(req).flavor
    const created = await flavors.create({
      id: f.id === undefined || f.id === null ? null : String(f.id),
      name: f.name, ramMb: int(f.ram, 'ram', 1), vcpus: int(f.vcpus, 'vcpus', 1), diskGb: int(f.disk, 'disk', 0),
      ephemeralGb: f['OS-FLV-EXT-DATA:ephemeral'] === undefined ? 0 : int(f['OS-FLV-EXT-DATA:ephemeral'], 'OS-FLV-EXT-DATA:ephemeral', 0),
      swapMb: f.swap === undefined || f.swap === '' ? 0 : int(f.swap, 'swap', 0),
      rxtxFactor: f.rxtx_factor === undefined ? 1.0 : Number(f.rxtx_factor),
      isPublic: f['os-flavor-access:is_public'] === undefined ? true : toBool(f['os-flavor-access:is_public']),
      description: f.description ?? null,
    })
    return { flavor: await views.one(req, created) }
  })

  api.put(`${P}/flavors/:id`, {
    config: { policy: 'os_compute_api:os-flavor-manage:update' },
    preValidation: async (req) => {
      if (!atLeast(req, '2.55')) throw methodNotAllowed()
      validateBody(req, UPDATE_SCHEMA)
    },
  }, async (req) => {
    const { id } = req.params as { id: string }
    const updated = await flavors.setDescription(id, bodyOf<{ flavor: { description: string | null } }>(req).flavor.description)
    return { flavor: await views.one(req, updated) }
  })

  api.delete(`${P}/flavors/:id`, { config: { policy: 'os_compute_api:os-flavor-manage:delete' } }, async (req, reply) => {
    const { id } = req.params as { id: string }
    await flavors.delete(id)
    reply.code(202)
    return ''
  })
}

/** PUT /flavors/{id} before 2.55 is not a route in Nova: 405. */
function methodNotAllowed() {
  return Object.assign(new Error('The method specified is not allowed for this resource.'), { statusCode: 405, code: 'MethodNotAllowed' })
}

