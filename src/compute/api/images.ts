import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import type { QuotaService } from '../quotas.ts'
import { limitAndMarker, links, nextLinks, queryOf, validateBody } from './common.ts'

// The image proxy, deprecated and gone from 2.36 (nova/api/openstack/compute/images.py,
// image_metadata.py, views/images.py): Glance's images in Nova's shape, read and deleted and
// their properties ("metadata") changed in Glance with the caller's own token, so Glance decides
// what the caller may see and change.

/** Glance attributes that are not properties (nova/image/glance.py IMAGE_ATTRIBUTES and what v2 adds). */
const CORE = new Set(['id', 'name', 'status', 'visibility', 'owner', 'size', 'virtual_size', 'checksum', 'os_hash_algo',
  'os_hash_value', 'disk_format', 'container_format', 'min_ram', 'min_disk', 'protected', 'created_at', 'updated_at', 'tags',
  'self', 'file', 'schema', 'direct_url', 'locations', 'os_hidden', 'stores', 'deleted', 'deleted_at'])
/** Glance status → Nova's (views/images.py _get_status) and progress. */
const STATUS: Record<string, string> = { active: 'ACTIVE', queued: 'SAVING', saving: 'SAVING', importing: 'SAVING',
  deleted: 'DELETED', pending_delete: 'DELETED', killed: 'ERROR' }
const PROGRESS: Record<string, number> = { queued: 25, saving: 50, active: 100 }
/** Nova's list filters (images.py SUPPORTED_FILTERS). */
const FILTERS = ['name', 'status', 'changes-since', 'server', 'type', 'minRam', 'minDisk']

type Image = Record<string, unknown> & { id: string }

const META = { type: 'object', additionalProperties: { type: 'string', maxLength: 255 }, propertyNames: { minLength: 1, maxLength: 255 } }
const METADATA_BODY = { type: 'object', required: ['metadata'], additionalProperties: false, properties: { metadata: META } }
const META_ITEM_BODY = { type: 'object', required: ['meta'], additionalProperties: false, properties: { meta: { ...META, minProperties: 1, maxProperties: 1 } } }

/** An image's properties: its non-core attributes (Glance v2 keeps them flat). */
function propertiesOf(img: Image): Record<string, unknown> {
  return Object.fromEntries(Object.entries(img).filter(([k, v]) => !CORE.has(k) && v !== null && v !== undefined))
}

/** Nova's time format for images (second precision, Z). */
function novaDate(s: unknown): string | null {
  return typeof s === 'string' ? new Date(s).toISOString().replace(/\.\d{3}Z$/, 'Z') : null
}

/** Wires /images and /images/{id}/metadata (404 from 2.36). */
export function imageProxyRoutes(api: Api, c: ComputeCtx, quotas: QuotaService, P: string): void {
  const glanceUrl = (c.glance as unknown as { baseUrl: string }).baseUrl.replace(/\/$/, '')
  const cfg = { config: { selfPolicy: true }, preHandler: async (req: FastifyRequest) => {
    if (atLeast(req, '2.36')) throw new CloudError('NotFound', 'The resource could not be found.')
  } }
  const token = (req: FastifyRequest) => String(req.headers['x-auth-token'])

  /** Calls Glance as the caller; Glance's 404 and 403 become Nova's. */
  async function glance(req: FastifyRequest, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<any> {
    const r = await fetch(`${glanceUrl}/v2${path}`, {
      method, headers: { 'x-auth-token': token(req), ...(body !== undefined ? { 'content-type': contentType } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (r.status === 404) throw new CloudError('NotFound', 'Image not found.')
    if (r.status === 403) throw new CloudError('Forbidden', 'Not allowed to change this image.')
    if (r.status === 409) throw new CloudError('Conflict', `Glance answered 409: ${(await r.text()).slice(0, 200)}`)
    if (r.status === 400 || r.status === 413) throw badRequest(`Glance answered ${r.status}: ${(await r.text()).slice(0, 200)}`)
    if (!r.ok) throw new CloudError('Unavailable', `Glance answered ${r.status}.`)
    return r.status === 204 ? undefined : r.json()
  }
  const getImage = (req: FastifyRequest, id: string): Promise<Image> => glance(req, 'GET', `/images/${encodeURIComponent(id)}`)

  /** The image as Nova shows it (views/images.py show). */
  function view(req: FastifyRequest, img: Image): Record<string, unknown> {
    const props = propertiesOf(img)
    const status = String(img.status)
    const out: Record<string, unknown> = {
      id: img.id, name: img.name ?? null, minRam: Number(img.min_ram ?? 0), minDisk: Number(img.min_disk ?? 0),
      metadata: props, created: novaDate(img.created_at), updated: novaDate(img.updated_at),
      status: STATUS[status] ?? 'UNKNOWN', progress: PROGRESS[status] ?? 0, 'OS-EXT-IMG-SIZE:size': img.size ?? null,
      links: [...links(req, 'images', img.id), { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${glanceUrl}/images/${img.id}` }],
    }
    if (typeof props.instance_uuid === 'string') out.server = { id: props.instance_uuid, links: links(req, 'servers', props.instance_uuid) }
    if (props.auto_disk_config !== undefined) out['OS-DCF:diskConfig'] = /^(1|true|yes|on|y|t)$/i.test(String(props.auto_disk_config)) ? 'AUTO' : 'MANUAL'
    return out
  }

  /** Every image the caller sees in Glance, following Glance's pages. */
  async function allImages(req: FastifyRequest): Promise<Image[]> {
    const out: Image[] = []
    let next: string | undefined = '/images?limit=1000'
    for (let pages = 0; next && pages < 100; pages++) {
      const page: { images: Image[]; next?: string } = await glance(req, 'GET', next)
      out.push(...page.images)
      next = page.next?.replace(/^\/v2/, '')
    }
    return out
  }

  async function list(req: FastifyRequest, detail: boolean) {
    const q = queryOf(req)
    const page = limitAndMarker(q)
    const serverId = q.server?.replace(/^.*\/servers\//, '').replace(/\/$/, '')
    const since = q['changes-since'] !== undefined ? Date.parse(q['changes-since']) : undefined
    if (since !== undefined && Number.isNaN(since)) throw badRequest(`Invalid changes-since value: ${q['changes-since']}`)
    let imgs = (await allImages(req)).filter((i) => {
      const p = propertiesOf(i)
      return (q.name === undefined || i.name === q.name)
        && (q.status === undefined || (STATUS[String(i.status)] ?? 'UNKNOWN') === q.status.toUpperCase())
        && (serverId === undefined || p.instance_uuid === serverId)
        && (q.type === undefined || p.image_type === q.type)
        && (q.minRam === undefined || Number(i.min_ram ?? 0) >= Number(q.minRam))
        && (q.minDisk === undefined || Number(i.min_disk ?? 0) >= Number(q.minDisk))
        && (since === undefined || Date.parse(String(i.updated_at)) >= since)
    })
    imgs.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)) || a.id.localeCompare(b.id))
    if (page.marker !== undefined) {
      const at = imgs.findIndex((i) => i.id === page.marker)
      if (at < 0) throw badRequest(`marker [${page.marker}] not found`)
      imgs = imgs.slice(at + 1)
    }
    imgs = imgs.slice(0, page.limit)
    const body: Record<string, unknown> = {
      images: imgs.map((i) => detail ? view(req, i) : { id: i.id, name: i.name ?? null, links: view(req, i).links }),
    }
    const known = Object.fromEntries(Object.entries(q).filter(([k]) => FILTERS.includes(k)))
    const next = nextLinks(req, detail ? 'images/detail' : 'images', known, page, imgs.length, imgs.at(-1)?.id)
    if (next) body.images_links = next
    return body
  }

  api.get(`${P}/images`, cfg, async (req) => list(req, false))
  api.get(`${P}/images/detail`, cfg, async (req) => list(req, true))
  api.get(`${P}/images/:id`, cfg, async (req) => ({ image: view(req, await getImage(req, (req.params as { id: string }).id)) }))
  api.delete(`${P}/images/:id`, cfg, async (req, reply) => {
    await glance(req, 'DELETE', `/images/${encodeURIComponent((req.params as { id: string }).id)}`)
    return reply.code(204).send()
  })

  /** Applies JSON-patch operations to the image's properties; answers its properties after. */
  async function patch(req: FastifyRequest, id: string, set: Record<string, string>, remove: string[]): Promise<Record<string, unknown>> {
    const img = await getImage(req, id)
    const props = propertiesOf(img)
    const after = { ...props, ...set }
    for (const k of remove) delete after[k]
    const limit = (await quotas.limits(String(img.owner ?? req.ctx.projectId ?? ''))).metadata_items!
    if (limit >= 0 && Object.keys(after).length > limit) {
      throw new CloudError('Forbidden', `Quota exceeded for metadata_items: Requested ${Object.keys(after).length}, but already used 0 of ${limit} metadata_items`)
    }
    const ops = [
      ...remove.filter((k) => k in props).map((k) => ({ op: 'remove', path: `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}` })),
      ...Object.entries(set).map(([k, v]) => ({ op: k in props ? 'replace' : 'add', path: `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, value: v })),
    ]
    const updated: Image = ops.length
      ? await glance(req, 'PATCH', `/images/${encodeURIComponent(id)}`, ops, 'application/openstack-images-v2.1-json-patch')
      : img
    return propertiesOf(updated)
  }
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id

  api.get(`${P}/images/:id/metadata`, cfg, async (req) => ({ metadata: propertiesOf(await getImage(req, idOf(req))) }))
  // POST merges, PUT replaces all.
  api.post(`${P}/images/:id/metadata`, cfg, async (req) => {
    validateBody(req, METADATA_BODY)
    return { metadata: await patch(req, idOf(req), (req.body as any).metadata, []) }
  })
  api.put(`${P}/images/:id/metadata`, cfg, async (req) => {
    validateBody(req, METADATA_BODY)
    const meta = (req.body as any).metadata as Record<string, string>
    const current = propertiesOf(await getImage(req, idOf(req)))
    return { metadata: await patch(req, idOf(req), meta, Object.keys(current).filter((k) => !(k in meta))) }
  })
  api.get(`${P}/images/:id/metadata/:key`, cfg, async (req) => {
    const key = (req.params as { key: string }).key
    const props = propertiesOf(await getImage(req, idOf(req)))
    if (!(key in props)) throw new CloudError('NotFound', 'Invalid metadata key')
    return { meta: { [key]: props[key] } }
  })
  api.put(`${P}/images/:id/metadata/:key`, cfg, async (req) => {
    validateBody(req, META_ITEM_BODY)
    const key = (req.params as { key: string }).key
    const meta = (req.body as any).meta as Record<string, string>
    if (!(key in meta)) throw badRequest('Request body and URI mismatch')
    await patch(req, idOf(req), { [key]: meta[key]! }, [])
    return { meta: { [key]: meta[key] } }
  })
  api.delete(`${P}/images/:id/metadata/:key`, cfg, async (req, reply) => {
    const key = (req.params as { key: string }).key
    const props = propertiesOf(await getImage(req, idOf(req)))
    if (!(key in props)) throw new CloudError('NotFound', 'Invalid metadata key')
    await patch(req, idOf(req), {}, [key])
    return reply.code(204).send()
  })
}
