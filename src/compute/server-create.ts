import { randomBytes, randomUUID } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import type { FastifyRequest } from 'fastify'
import { CloudError, badRequest } from '../core/errors.ts'
import { BOOLEAN_SCHEMA, deny, toBool, validateBody } from './api/common.ts'
import type { ComputeCtx } from './context.ts'
import type { FlavorSnapshot } from './instances.ts'
import { atLeast } from './microversion.ts'
import type { QuotaService } from './quotas.ts'
import type { FlavorRow, InstanceRow } from './schema.ts'
import type { GlanceImage } from './clients/glance.ts'

// POST /servers, the checking half (nova/api/openstack/compute/servers.py create,
// schemas/servers.py base_create, compute/api.py _validate_and_build_base_options): the body is
// validated for the request's microversion, every reference (image, flavor, key pair, zone,
// server group) is resolved, and the rows to insert are built. Nothing is written here.

const NAME = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?!\\s)[^\\x00-\\x1F\\x7F]*(?<!\\s)$' }
const DESCRIPTION = { type: ['string', 'null'], minLength: 0, maxLength: 255, pattern: '^[^\\x00-\\x1F\\x7F]*$' }
const UUID = { type: 'string', pattern: '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$' }
const POSITIVE = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1, minLength: 1 }
/** Nova's parameter_types.metadata: keys 1–255 of [a-zA-Z0-9-_:. ], values ≤ 255. */
export const METADATA_SCHEMA = {
  type: 'object', additionalProperties: false,
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
}
/** A server tag (2.26): no comma or slash, ≤ 60 characters. */
export const TAG_SCHEMA = { type: 'string', minLength: 1, maxLength: 60, pattern: '^[^,/]*$' }
/** The most tags a server may have (objects/instance.py MAX_TAG_COUNT). */
export const MAX_TAGS = 50
const HOSTNAME = { type: 'string', minLength: 2, maxLength: 63, pattern: '^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$' }
const BDM_V2 = {
  type: 'object', additionalProperties: false,
  properties: {
    source_type: { type: 'string', enum: ['volume', 'image', 'snapshot', 'blank'] },
    destination_type: { type: 'string', enum: ['local', 'volume'] },
    uuid: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9._-]*$' },
    image_id: UUID, volume_id: UUID, snapshot_id: UUID,
    boot_index: { type: ['integer', 'string', 'null'], pattern: '^-?[0-9]+$' },
    volume_size: { type: ['integer', 'string'], pattern: '^[0-9]+$' },
    delete_on_termination: BOOLEAN_SCHEMA, device_name: { type: 'string', maxLength: 255 },
    no_device: {}, guest_format: { type: 'string', maxLength: 255 }, disk_bus: { type: 'string', maxLength: 255 },
    device_type: { type: 'string', maxLength: 255 }, volume_type: { type: ['string', 'null'], maxLength: 255 },
    tag: { type: 'string', maxLength: 60, pattern: '^[^,/]*$' },
  },
}

function createSchema(req: FastifyRequest): object {
  const network: Record<string, unknown> = { fixed_ip: { type: 'string' }, port: { type: ['string', 'null'] }, uuid: { type: 'string' } }
  if (atLeast(req, '2.32')) network.tag = { type: 'string', maxLength: 60, pattern: '^[^,/]*$' }
  const list = { type: 'array', items: { type: 'object', additionalProperties: false, properties: network } }
  const props: Record<string, unknown> = {
    name: NAME, imageRef: { type: 'string' }, flavorRef: { type: ['string', 'integer'], minLength: 1 },
    adminPass: { type: 'string' }, metadata: METADATA_SCHEMA,
    networks: atLeast(req, '2.37') ? { oneOf: [list, { type: 'string', enum: ['none', 'auto'] }] } : list,
    'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
    accessIPv4: { type: 'string' }, accessIPv6: { type: 'string' },
    availability_zone: NAME, block_device_mapping_v2: { type: 'array', items: BDM_V2 },
    block_device_mapping: { type: 'array' }, config_drive: BOOLEAN_SCHEMA, key_name: NAME,
    min_count: POSITIVE, max_count: POSITIVE, return_reservation_id: BOOLEAN_SCHEMA,
    security_groups: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } }, additionalProperties: false } },
    user_data: { type: 'string', maxLength: 65535 },
  }
  if (!atLeast(req, '2.57')) props.personality = { type: 'array' }
  if (atLeast(req, '2.19')) props.description = DESCRIPTION
  if (atLeast(req, '2.52')) props.tags = { type: 'array', items: TAG_SCHEMA, maxItems: MAX_TAGS }
  if (atLeast(req, '2.63')) props.trusted_image_certificates = { type: ['array', 'null'], minItems: 1, maxItems: 50, uniqueItems: true, items: { type: 'string', minLength: 1 } }
  if (atLeast(req, '2.74')) { props.host = NAME; props.hypervisor_hostname = NAME }
  if (atLeast(req, '2.90')) props.hostname = HOSTNAME
  const hints = { type: 'object', properties: { group: { oneOf: [UUID, { type: 'array', items: UUID }] } }, additionalProperties: true }
  return {
    type: 'object', required: ['server'], additionalProperties: false,
    properties: {
      server: {
        type: 'object', additionalProperties: false, properties: props,
        required: atLeast(req, '2.37') ? ['name', 'flavorRef', 'networks'] : ['name', 'flavorRef'],
      },
      'os:scheduler_hints': hints, 'OS-SCH-HNT:scheduler_hints': hints,
    },
  }
}
const schemas = new Map<string, object>()
const SCHEMA_STEPS = ['2.90', '2.74', '2.63', '2.57', '2.52', '2.37', '2.32', '2.19', '2.1']
/** The create body's schema at the request's microversion (compiled once per step). */
export function createSchemaFor(req: FastifyRequest): object {
  const k = SCHEMA_STEPS.find((v) => atLeast(req, v))!
  let s = schemas.get(k)
  if (!s) { s = createSchema(req); schemas.set(k, s) }
  return s
}

/** The create body as the schema accepted it. */
export interface CreateBody {
  server: {
    name: string; imageRef?: string; flavorRef: string | number; adminPass?: string; metadata?: Record<string, string>
    networks?: 'auto' | 'none' | Array<{ uuid?: string; port?: string | null; fixed_ip?: string }>
    'OS-DCF:diskConfig'?: 'AUTO' | 'MANUAL'; accessIPv4?: string; accessIPv6?: string; availability_zone?: string
    block_device_mapping_v2?: Array<Record<string, unknown>>; block_device_mapping?: unknown[]
    config_drive?: boolean | string; key_name?: string; min_count?: number | string; max_count?: number | string
    return_reservation_id?: boolean | string; security_groups?: Array<{ name?: string }>; user_data?: string
    personality?: unknown[]; description?: string | null; tags?: string[]; trusted_image_certificates?: string[] | null
    host?: string; hypervisor_hostname?: string; hostname?: string
  }
  'os:scheduler_hints'?: { group?: string | string[]; [k: string]: unknown }
  'OS-SCH-HNT:scheduler_hints'?: { group?: string | string[]; [k: string]: unknown }
}

/** Everything create resolved: the rows to insert and what the answer needs. */
export interface PreparedCreate {
  rows: InstanceRow[]
  metadata: Record<string, string>
  tags: string[]
  groupUuid?: string
  minCount: number
  flavor: FlavorSnapshot
  adminPass: string
  reservationId: string
  returnReservationId: boolean
  /** The create body's security_groups, echoed in the answer as Nova does. */
  securityGroups: Array<{ name?: string }>
}

/** Nova's utils.sanitize_hostname ('' when nothing is left). */
export function sanitizeHostname(name: string): string {
  const h = name.replace(/[^\x00-\xff]/g, '').slice(0, 63)
  return h.replace(/[ _.]/g, '-').replace(/[^\p{L}\p{N}_.-]+/gu, '').toLowerCase().replace(/^[.-]+|[.-]+$/g, '')
}

/** The hostname Nova gives a new server (compute/api.py _populate_instance_names). */
function hostnameFor(name: string, uuid: string, count: number, index: number): string {
  const h = sanitizeHostname(name)
  if (!h) return `Server-${uuid}`
  return count > 1 ? `${h}-${index + 1}` : h
}

/** Nova's utils.generate_password (12 characters, no look-alikes). */
function generatePassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'
  return [...randomBytes(12)].map((b) => alphabet[b % alphabet.length]).join('')
}

/** Glance fields that are not image properties (the rest go into system_metadata as image_<key>). */
const IMAGE_FIELDS = new Set(['id', 'name', 'status', 'visibility', 'owner', 'size', 'checksum', 'disk_format',
  'container_format', 'min_ram', 'min_disk', 'protected', 'created_at', 'updated_at', 'tags', 'self', 'file',
  'schema', 'virtual_size', 'os_hash_algo', 'os_hash_value', 'os_hidden', 'direct_url', 'locations', 'stores'])

/** system_metadata of a server booted from `image` (nova/utils.py get_system_metadata_from_image). */
export function imageSystemMetadata(image: GlanceImage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(image)) {
    if (IMAGE_FIELDS.has(k) || v === null || v === undefined) continue
    out[`image_${k}`] = typeof v === 'string' ? v : JSON.stringify(v)
  }
  const core: Record<string, unknown> = { disk_format: image.disk_format, container_format: image.container_format,
    checksum: image.checksum, size: image.size, min_ram: image.min_ram, min_disk: image.min_disk }
  for (const [k, v] of Object.entries(core)) if (v !== null && v !== undefined) out[`image_${k}`] = String(v)
  out.image_base_image_ref = image.id
  return out
}

/** The zones servers may ask for: those of enabled compute services, or `nova` before any registers. */
export async function availableZones(c: ComputeCtx): Promise<string[]> {
  const rows = await c.db.selectFrom('services').select(['zone', 'disabled']).where('binary', '=', 'nova-compute').execute()
  if (rows.length === 0) return ['nova']
  return [...new Set(rows.filter((r) => !Number(r.disabled)).map((r) => r.zone))]
}

/** The flavor id of a flavorRef (an id or a link to one). */
function flavorIdOf(ref: string | number): string {
  const s = String(ref)
  return s.includes('/') ? s.replace(/\/+$/, '').split('/').pop()! : s
}

type Body = CreateBody['server']

/** Validates the body and resolves its references; throws Nova's 400/403 on any bad input. */
export async function prepareCreate(c: ComputeCtx, req: FastifyRequest, quotas: QuotaService): Promise<PreparedCreate> {
  validateBody(req, createSchemaFor(req))
  const body = req.body as CreateBody
  const s = body.server
  const projectId = req.ctx.projectId ?? ''
  const target = { project_id: projectId }
  const can = (rule: string) => c.policy.check(rule, req.ctx, target)

  if (s.personality && s.personality.length > 0) {
    throw new CloudError('NotImplemented', 'Personality (file injection) is not supported by this cloud; pass files in user_data or the config drive.')
  }
  if (s.trusted_image_certificates) {
    throw badRequest('Image signature certificate validation is not enabled in this cloud, so trusted_image_certificates cannot be used.')
  }
  const minCount = s.min_count === undefined ? 1 : Number(s.min_count)
  const maxCount = s.max_count === undefined ? minCount : Number(s.max_count)
  if (minCount > maxCount) throw badRequest('min_count must be <= max_count')
  if (s.hostname !== undefined && maxCount > 1) {
    throw badRequest('Cannot use hostname with multiple servers (max_count > 1).')
  }
  if (s.accessIPv4 !== undefined && !isIPv4(s.accessIPv4)) {
    throw badRequest(`Invalid input for field/attribute accessIPv4. Value: ${s.accessIPv4}. '${s.accessIPv4}' is not a 'ipv4'`)
  }
  if (s.accessIPv6 !== undefined && !isIPv6(s.accessIPv6)) {
    throw badRequest(`Invalid input for field/attribute accessIPv6. Value: ${s.accessIPv6}. '${s.accessIPv6}' is not a 'ipv6'`)
  }
  if (s.user_data !== undefined && !isBase64(s.user_data)) {
    throw badRequest(`Invalid input for field/attribute user_data. Value: ${s.user_data.slice(0, 64)}. '${s.user_data.slice(0, 64)}' is not a 'base64'`)
  }
  for (const g of s.security_groups ?? []) {
    if (g.name !== undefined && g.name !== 'default') {
      throw badRequest(`Security group ${g.name} not found for project ${projectId}.`)
    }
  }
  const networks = resolveNetworks(s)
  const { imageId, bdm } = resolveBlockDevices(s)

  // Zone, and the admin-only forced destination (zone:host[:node], 2.74 host/hypervisor_hostname).
  let zone = ''
  let forceHost: string | undefined
  let forceNode: string | undefined
  if (s.availability_zone !== undefined) {
    // compute/api.py parse_availability_zone: zone, zone:host, zone:host:node or zone::node.
    const parts = s.availability_zone.split(':')
    if (parts.length > 3) throw badRequest('Invalid input received: Unable to parse availability_zone')
    zone = parts[0]!
    forceHost = parts[1] || undefined
    forceNode = parts[2] || undefined
    if (parts.length > 1) {
      if (!can('os_compute_api:servers:create:forced_host')) throw deny('os_compute_api:servers:create:forced_host')
    }
    if (zone && !(await availableZones(c)).includes(zone)) throw badRequest('The requested availability zone is not available')
  }
  if (s.host !== undefined || s.hypervisor_hostname !== undefined) {
    if (!can('os_compute_api:servers:create:requested_destination')) throw deny('os_compute_api:servers:create:requested_destination')
    if (s.host !== undefined) {
      const known = await c.db.selectFrom('services').select('host').where('host', '=', s.host).where('binary', '=', 'nova-compute').executeTakeFirst()
      if (!known) throw badRequest(`Compute host ${s.host} could not be found.`)
      forceHost = s.host
    }
    if (s.hypervisor_hostname !== undefined) {
      const known = await c.db.selectFrom('compute_nodes').select('host').where('hypervisor_hostname', '=', s.hypervisor_hostname).executeTakeFirst()
      if (!known) throw badRequest(`Compute host ${s.hypervisor_hostname} could not be found.`)
      forceNode = s.hypervisor_hostname
    }
  }

  const flavorRow = await resolveFlavor(c, req, s.flavorRef)
  const specs = await c.db.selectFrom('flavor_extra_specs').selectAll().where('flavorid', '=', flavorRow.flavorid).orderBy('key').execute()
  const flavor: FlavorSnapshot = {
    flavorid: flavorRow.flavorid, name: flavorRow.name, vcpus: Number(flavorRow.vcpus), memory_mb: Number(flavorRow.memory_mb),
    root_gb: Number(flavorRow.root_gb), ephemeral_gb: Number(flavorRow.ephemeral_gb), swap: Number(flavorRow.swap),
    rxtx_factor: Number(flavorRow.rxtx_factor), is_public: !!Number(flavorRow.is_public), description: flavorRow.description,
    extra_specs: Object.fromEntries(specs.map((x) => [x.key, x.value])),
  }

  // The image, as the caller sees it in Glance.
  const token = req.headers['x-auth-token'] as string
  const image = await c.glance.get(imageId, token)
  if (!image) throw badRequest('Can not find requested image')
  if (image.status !== 'active') throw badRequest(`Image ${imageId} is not active.`)
  if (flavor.memory_mb < Number(image.min_ram ?? 0)) throw badRequest("Flavor's memory is too small for requested image.")
  if (flavor.root_gb === 0) {
    if (!can('os_compute_api:servers:create:zero_disk_flavor')) {
      throw new CloudError('Forbidden', 'Only volume-backed servers are allowed for flavors with zero disk.')
    }
  } else {
    const diskBytes = flavor.root_gb * 1024 ** 3
    if (Number(image.size ?? 0) > diskBytes) {
      throw badRequest(`Flavor's disk is too small for requested image. Flavor disk is ${diskBytes} bytes, image is ${image.size} bytes.`)
    }
    if (Number(image.min_disk ?? 0) > flavor.root_gb) {
      throw badRequest(`Flavor's disk is smaller than the minimum size specified in image metadata. Flavor disk is ${diskBytes} bytes, minimum size is ${Number(image.min_disk) * 1024 ** 3} bytes.`)
    }
  }

  let keyData: string | null = null
  if (s.key_name !== undefined) {
    const k = await c.db.selectFrom('key_pairs').select('public_key').where('user_id', '=', req.ctx.userId).where('name', '=', s.key_name).executeTakeFirst()
    if (!k) throw badRequest(`Invalid key_name provided.`)
    keyData = k.public_key
  }

  const metadata = s.metadata ?? {}
  const limits = await quotas.limits(projectId, req.ctx.userId)
  const metaLimit = limits.metadata_items!
  if (metaLimit >= 0 && Object.keys(metadata).length > metaLimit) {
    throw new CloudError('Forbidden', `Maximum number of metadata items exceeds ${metaLimit}`)
  }

  const hints = body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints']
  // Nova takes a list too and uses its first group.
  const groupUuid = Array.isArray(hints?.group) ? hints.group[0] : hints?.group
  if (groupUuid !== undefined) {
    const g = await c.db.selectFrom('server_groups').select(['uuid', 'project_id']).where('uuid', '=', groupUuid).executeTakeFirst()
    if (!g || (g.project_id !== projectId && !c.policy.check('context_is_admin', req.ctx))) {
      throw badRequest(`Instance group ${groupUuid} could not be found.`)
    }
  }

  const count = await quotas.allowedInstances(projectId, flavor, minCount, maxCount, groupUuid)
  const reservationId = `r-${randomBytes(6).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 8)}`
  const now = new Date(c.clock.now()).toISOString()
  const sysmeta: Record<string, string> = { ...imageSystemMetadata(image), disk_config: s['OS-DCF:diskConfig'] ?? 'MANUAL' }
  // The other hints (same_host, different_host…) are kept for the scheduler.
  const otherHints = Object.fromEntries(Object.entries(hints ?? {}).filter(([k]) => k !== 'group'))
  if (Object.keys(otherHints).length) sysmeta.scheduler_hints = JSON.stringify(otherHints)
  if (forceHost) sysmeta.force_host = forceHost
  if (forceNode) sysmeta.force_node = forceNode
  const rows: InstanceRow[] = []
  for (let i = 0; i < count; i++) {
    const uuid = randomUUID()
    const name = count > 1 ? `${s.name}-${i + 1}` : s.name
    rows.push({
      uuid, project_id: projectId, user_id: req.ctx.userId, display_name: name,
      display_description: s.description !== undefined ? s.description : (atLeast(req, '2.19') ? null : name),
      hostname: s.hostname ?? hostnameFor(s.name, uuid, count, i),
      reservation_id: reservationId, launch_index: i, image_ref: imageId, flavor: JSON.stringify(flavor),
      key_name: s.key_name ?? null, key_data: keyData, user_data: s.user_data ?? null,
      availability_zone: zone, host: null, node: null, vm_state: 'building', task_state: 'scheduling', power_state: 0,
      desired_power: 'running', desired_gen: 1, applied_gen: 0, pending_op: null,
      locked: 0, locked_by: null, locked_reason: null,
      access_ip_v4: s.accessIPv4 ?? null, access_ip_v6: s.accessIPv6 === undefined ? null : canonicalIPv6(s.accessIPv6),
      config_drive: s.config_drive !== undefined && toBool(s.config_drive) ? 'True' : '',
      requested_networks: JSON.stringify(networks), addresses: '{}', block_device_mapping: JSON.stringify(bdm),
      system_metadata: JSON.stringify(sysmeta), root_device_name: '/dev/vda', progress: 0,
      created_at: now, updated_at: now, launched_at: null, terminated_at: null, deleted: 0, deleted_at: null,
    })
  }
  return {
    rows, metadata, tags: [...new Set(s.tags ?? [])], groupUuid, minCount, flavor,
    adminPass: s.adminPass ?? generatePassword(), reservationId,
    returnReservationId: s.return_reservation_id !== undefined && toBool(s.return_reservation_id),
    securityGroups: s.security_groups ?? [{ name: 'default' }],
  }
}

/**
 * An IPv6 address as Nova stores it (netaddr's str(): lowercase, no leading zeros, the longest
 * run of zero groups as '::', an embedded IPv4 tail as hex groups except in ::ffff:a.b.c.d).
 */
export function canonicalIPv6(addr: string): string {
  let text = addr.toLowerCase()
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined]
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  const g = groups.map((x) => parseInt(x, 16))
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `::ffff:${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`
  }
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) { best = i; bestLen = j - i }
    i = j === i ? i + 1 : j
  }
  const hex = g.map((x) => x.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

function isBase64(s: string): boolean {
  const t = s.replace(/\s+/g, '')
  return t.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(t)
}

/** networks: 'auto' | 'none'; absent before 2.37 is one user-mode NIC; a list names networks that don't exist yet. */
function resolveNetworks(s: Body): 'auto' | 'none' {
  const n = s.networks
  if (n === undefined || n === 'auto') return 'auto'
  if (n === 'none') return 'none'
  for (const item of n) {
    if (item.port) throw badRequest(`Port id ${item.port} could not be found.`)
    if (item.uuid !== undefined) {
      if (!/^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$/.test(item.uuid)) {
        throw badRequest(`Bad networks format: network uuid is not in proper format (${item.uuid})`)
      }
      throw badRequest(`Network ${item.uuid} could not be found.`)
    }
    throw badRequest('Bad network format: missing uuid')
  }
  // An empty list names no network: Nova then allocates as for 'auto'.
  return 'auto'
}

/** The image to boot and the block device mapping; volumes wait for the block storage service. */
function resolveBlockDevices(s: Body): { imageId: string; bdm: Array<Record<string, unknown>> } {
  if (s.block_device_mapping && s.block_device_mapping.length > 0) {
    throw badRequest('Block device mappings with volumes are not supported: this cloud has no block storage service (Cinder) yet.')
  }
  const given = s.block_device_mapping_v2 ?? []
  let imageId = s.imageRef ?? ''
  const bdm: Array<Record<string, unknown>> = []
  for (const d of given) {
    const src = d.source_type as string | undefined
    const dst = (d.destination_type as string | undefined) ?? (src === 'image' || src === 'blank' ? 'local' : 'volume')
    if (src === 'volume' || src === 'snapshot' || dst === 'volume') {
      throw badRequest('Block device mappings with volumes are not supported: volumes arrive with the block storage service (Cinder), which this cloud does not have yet.')
    }
    if (src === 'blank' || src === undefined) {
      // Extra local disks would be silently dropped: the guest gets the flavor's ephemeral and swap disks.
      throw badRequest('Block device mappings of blank local disks are not supported: ephemeral and swap disks come from the flavor.')
    }
    const boot = d.boot_index === undefined || d.boot_index === null ? null : Number(d.boot_index)
    if (src === 'image') {
      if (boot !== 0) throw badRequest('Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.')
      const uuid = (d.uuid ?? d.image_id) as string | undefined
      if (!uuid) throw badRequest('Block Device Mapping is Invalid: an image block device needs the image uuid.')
      if (imageId && imageId !== uuid) throw badRequest('Block Device Mapping is Invalid: the image does not match imageRef.')
      imageId = uuid
    }
    bdm.push({ ...d, destination_type: dst, boot_index: boot })
  }
  if (!imageId) throw badRequest('Missing imageRef attribute')
  if (!/^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$/.test(imageId)) {
    throw badRequest(`Invalid input for field/attribute imageRef. Value: ${imageId}. '${imageId}' is not a 'uuid'`)
  }
  if (!bdm.some((d) => d.source_type === 'image')) {
    bdm.unshift({ source_type: 'image', destination_type: 'local', boot_index: 0, uuid: imageId, delete_on_termination: true })
  }
  return { imageId, bdm }
}

/** A flavor the caller may use: public, or private with access for its project (or admin); not disabled. */
async function resolveFlavor(c: ComputeCtx, req: FastifyRequest, ref: string | number): Promise<FlavorRow> {
  const id = flavorIdOf(ref)
  const f = await c.db.selectFrom('flavors').selectAll().where('flavorid', '=', id).executeTakeFirst()
  const notFound = badRequest(`Flavor ${id} could not be found.`)
  if (!f || Number(f.disabled)) throw notFound
  if (!Number(f.is_public) && !c.policy.check('context_is_admin', req.ctx)) {
    const ok = await c.db.selectFrom('flavor_projects').select('flavorid').where('flavorid', '=', id)
      .where('project_id', '=', req.ctx.projectId ?? '').executeTakeFirst()
    if (!ok) throw notFound
  }
  return f
}
