import type { FastifyRequest } from 'fastify'
import { type SelectQueryBuilder, type Expression, type SqlBool, sql } from 'kysely'
import { CloudError, badRequest } from '../core/errors.ts'
import { MAX_LIMIT, deny, strictBool } from './api/common.ts'
import { statesFromStatus } from './api/server-views.ts'
import type { ComputeCtx } from './context.ts'
import { json } from './instances.ts'
import { atLeast } from './microversion.ts'
import type { ComputeSchema, InstanceRow } from './schema.ts'

// GET /servers and /servers/detail (servers.py _get_servers, compute/api.py get_all,
// db/main/api.py instance_get_all_by_filters_sort): Nova's filters for users and admins,
// several sort keys, keyset paging after a marker. Filters on indexed columns run in SQL;
// regular expressions (name, ip, ip6) and the flavor (inside the JSON snapshot) are applied to
// the SQL result, which then is paged here.

type Q = SelectQueryBuilder<ComputeSchema, 'instances', InstanceRow>

/** Filters any caller may use, by the microversion that allowed them (servers.py _get_server_search_options). */
function userFilters(req: FastifyRequest): Set<string> {
  const s = ['reservation_id', 'name', 'status', 'image', 'flavor', 'ip', 'changes-since', 'all_tenants']
  if (atLeast(req, '2.5')) s.push('ip6')
  if (atLeast(req, '2.26')) s.push('tags', 'tags-any', 'not-tags', 'not-tags-any')
  if (atLeast(req, '2.66')) s.push('changes-before')
  if (atLeast(req, '2.73')) s.push('locked')
  if (atLeast(req, '2.83')) {
    s.push('availability_zone', 'config_drive', 'key_name', 'created_at', 'launched_at', 'terminated_at',
      'power_state', 'task_state', 'vm_state', 'progress', 'user_id')
  }
  if (atLeast(req, '2.90')) s.push('hostname')
  return new Set(s)
}

/** API sort keys → columns (schemas/servers.py VALID_SORT_KEYS); keys Nova accepts but ignores map to null. */
const SORT_COLUMNS: Record<string, keyof InstanceRow | null> = {
  access_ip_v4: 'access_ip_v4', access_ip_v6: 'access_ip_v6', auto_disk_config: null, availability_zone: 'availability_zone',
  config_drive: 'config_drive', created_at: 'created_at', display_description: 'display_description',
  display_name: 'display_name', host: 'host', hostname: 'hostname', image_ref: 'image_ref', instance_type_id: null,
  kernel_id: null, key_name: 'key_name', launch_index: 'launch_index', launched_at: 'launched_at', locked_by: 'locked_by',
  node: 'node', power_state: 'power_state', progress: 'progress', project_id: 'project_id', ramdisk_id: null,
  root_device_name: 'root_device_name', task_state: 'task_state', terminated_at: 'terminated_at', updated_at: 'updated_at',
  user_id: 'user_id', uuid: 'uuid', vm_state: 'vm_state',
}
/** Sort keys Nova accepts and drops (SERVER_LIST_IGNORE_SORT_KEY; `locked` becomes sortable at 2.73). */
const IGNORED_SORT_KEYS = new Set(['architecture', 'cell_name', 'cleaned', 'default_ephemeral_device', 'default_swap_device',
  'deleted', 'deleted_at', 'disable_terminate', 'ephemeral_gb', 'ephemeral_key_uuid', 'id', 'key_data', 'launched_on',
  'locked', 'memory_mb', 'os_type', 'reservation_id', 'root_gb', 'shutdown_terminate', 'user_data', 'vcpus', 'vm_mode'])
/** Every query parameter Nova's index schema names (2.75 rejects others). */
const KNOWN_PARAMS = new Set(['user_id', 'project_id', 'tenant_id', 'launch_index', 'image_ref', 'image', 'kernel_id',
  'ramdisk_id', 'hostname', 'key_name', 'power_state', 'vm_state', 'task_state', 'host', 'node', 'flavor', 'reservation_id',
  'launched_at', 'terminated_at', 'availability_zone', 'name', 'display_name', 'description', 'display_description',
  'locked_by', 'uuid', 'root_device_name', 'config_drive', 'access_ip_v4', 'access_ip_v6', 'auto_disk_config', 'progress',
  'sort_key', 'sort_dir', 'all_tenants', 'soft_deleted', 'deleted', 'status', 'changes-since', 'ip', 'ip6', 'created_at',
  'limit', 'marker', 'tags', 'tags-any', 'not-tags', 'not-tags-any', 'changes-before', 'locked', 'block_device_mapping',
  'services', 'metadata', 'system_metadata', 'info_cache', 'security_groups', 'pci_devices'])
/** Parameters naming joined tables: Nova refuses to filter on them. */
const JOINED_PARAMS = new Set(['block_device_mapping', 'services', 'metadata', 'system_metadata', 'info_cache',
  'security_groups', 'pci_devices'])
const NUMERIC = new Set(['launch_index', 'power_state', 'progress', 'locked'])
/** Columns that are never NULL sort as they are (so the (project_id, deleted, created_at) index serves); others as ''. */
const NOT_NULL = new Set([...NUMERIC, 'created_at', 'uuid', 'display_name', 'hostname', 'image_ref', 'availability_zone',
  'vm_state', 'project_id', 'user_id', 'config_drive', 'root_device_name'])

/** The query string with repeated parameters kept as lists (status and sort keys may repeat). */
export function multiQuery(req: FastifyRequest): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
    out[k] = (Array.isArray(v) ? v : [v]).map(String)
  }
  return out
}

/** An ISO 8601 time as oslo's parse_isotime takes it (no zone means UTC); anything else is Nova's 400. */
function time(v: string, name: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(v.trim())
  const t = m ? Date.parse(`${m[1]}T${m[2] ?? '00:00'}${(m[3] ?? 'Z').replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')}`) : NaN
  if (Number.isNaN(t)) throw badRequest(`Invalid input for query parameters ${name}. Value: ${v}. '${v}' is not a 'date-time'`)
  return new Date(t).toISOString()
}
function bool(v: string, name: string): boolean {
  const b = strictBool(v)
  if (b === undefined) throw badRequest(`Invalid input for query parameters ${name}. Value: ${v}. '${v}' is not a valid boolean`)
  return b
}
/** A Python-style regular expression as the database's REGEXP would take it; a bad one matches literally. */
function regex(v: string): RegExp {
  try { return new RegExp(v) } catch { return new RegExp(v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) }
}
const lastSegment = (v: string) => v.replace(/\/+$/, '').split('/').pop() ?? v

/** A page of servers the caller asked for, in order. */
export async function listServers(c: ComputeCtx, req: FastifyRequest, detail: boolean): Promise<{ rows: InstanceRow[]; limit: number }> {
  const multi = multiQuery(req)
  const q: Record<string, string> = Object.fromEntries(Object.entries(multi).map(([k, v]) => [k, v[v.length - 1]!]))
  // From 2.75 an unknown query parameter is a 400 (schemas/servers.py index_query_v275).
  if (atLeast(req, '2.75')) {
    const extra = Object.keys(q).find((k) => !KNOWN_PARAMS.has(k) && !k.startsWith('_'))
    if (extra) {
      throw badRequest(`Invalid input for query parameters ${extra}. Value: ${q[extra]}. Additional properties are not allowed ('${extra}' was unexpected)`)
    }
  }
  const isAdmin = c.policy.check('os_compute_api:servers:allow_all_filters', req.ctx, { project_id: req.ctx.projectId })
  if (!isAdmin) {
    // Nova drops filters a user may not use instead of failing.
    const allowed = userFilters(req)
    for (const k of Object.keys(q)) {
      if (!allowed.has(k) && !['limit', 'marker', 'sort_key', 'sort_dir'].includes(k)) delete q[k]
    }
  }
  for (const k of Object.keys(q)) {
    if (JOINED_PARAMS.has(k) || k.startsWith('_')) throw badRequest(`Invalid filter field: ${k}.`)
  }
  // Aliases Nova keeps for admins.
  if (q.name === undefined && q.display_name !== undefined) q.name = q.display_name
  if (q.image === undefined && q.image_ref !== undefined) q.image = q.image_ref

  // all_tenants: '' or a true value means every project (admins); without it tenant_id is ignored (lp:#1185290).
  let allTenants = false
  if (q.all_tenants !== undefined) {
    if (q.all_tenants === '') allTenants = true
    else {
      const b = strictBool(q.all_tenants)
      if (b === undefined) throw badRequest(`Invalid input received: Unrecognized value '${q.all_tenants}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`)
      allTenants = b
    }
  }
  if (allTenants) {
    const rule = detail ? 'os_compute_api:servers:detail:get_all_tenants' : 'os_compute_api:servers:index:get_all_tenants'
    if (!c.policy.check(rule, req.ctx, { project_id: req.ctx.projectId })) throw deny(rule)
  }

  let sel = c.db.selectFrom('instances').selectAll() as Q
  if (allTenants) {
    const project = q.project_id ?? q.tenant_id
    if (project !== undefined) sel = sel.where('project_id', '=', project)
  } else {
    sel = sel.where('project_id', '=', req.ctx.projectId ?? '')
  }

  // Deleted servers: admins ask with deleted=true (or status=DELETED); changes-since/-before include them.
  let deleted: boolean | undefined = false
  if (q.deleted !== undefined && isAdmin) deleted = strictBool(q.deleted) ?? false
  else if (q['changes-since'] !== undefined || q['changes-before'] !== undefined) deleted = undefined

  if (multi.status && q.status !== undefined) {
    const statuses = isAdmin || userFilters(req).has('status') ? multi.status : []
    const { vmStates, taskStates } = statesFromStatus(statuses)
    if (vmStates.length === 0) {
      if (atLeast(req, '2.38')) throw badRequest('Invalid status value')
      return { rows: [], limit: 0 }
    }
    if (vmStates.length === 1 && vmStates[0] === 'deleted') {
      if (!c.policy.check('context_is_admin', req.ctx)) throw new CloudError('Forbidden', 'Only administrators may list deleted instances')
      deleted = true
    }
    sel = sel.where('vm_state', 'in', vmStates)
    if (taskStates) {
      const named = taskStates.filter((t) => t !== 'default')
      sel = sel.where('task_state', 'in', named)
    }
  }
  if (deleted !== undefined) sel = sel.where('deleted', '=', deleted ? 1 : 0)

  if (q['changes-since'] !== undefined) sel = sel.where('updated_at', '>=', time(q['changes-since'], 'changes-since'))
  if (q['changes-before'] !== undefined) {
    if (q['changes-since'] !== undefined && time(q['changes-since'], 'changes-since') > time(q['changes-before'], 'changes-before')) {
      throw badRequest('The value of changes-since must be less than or equal to changes-before.')
    }
    sel = sel.where('updated_at', '<=', time(q['changes-before'], 'changes-before'))
  }
  if (q.reservation_id !== undefined) sel = sel.where('reservation_id', '=', q.reservation_id)
  if (q.image !== undefined) sel = sel.where('image_ref', '=', lastSegment(q.image))
  if (q.locked !== undefined) sel = sel.where('locked', '=', bool(q.locked, 'locked') ? 1 : 0)
  if (q.key_name !== undefined) sel = sel.where('key_name', '=', q.key_name)
  if (q.user_id !== undefined) sel = sel.where('user_id', '=', q.user_id)
  if (q.vm_state !== undefined) sel = sel.where('vm_state', '=', q.vm_state)
  if (q.task_state !== undefined) sel = sel.where('task_state', '=', q.task_state)
  if (q.hostname !== undefined) sel = sel.where('hostname', '=', q.hostname)
  if (q.config_drive !== undefined) sel = sel.where('config_drive', '=', bool(q.config_drive, 'config_drive') ? 'True' : '')
  if (q.power_state !== undefined && /^\d+$/.test(q.power_state)) sel = sel.where('power_state', '=', Number(q.power_state))
  if (q.progress !== undefined && /^\d+$/.test(q.progress)) sel = sel.where('progress', '=', Number(q.progress))
  if (q.availability_zone !== undefined) {
    const az = q.availability_zone
    sel = sel.where((eb) => eb.or([
      eb.and([eb('host', 'is', null), eb('availability_zone', '=', az)]),
      eb('host', 'in', eb.selectFrom('services').select('host').where('zone', '=', az).where('binary', '=', 'nova-compute')),
    ]))
  }
  if (isAdmin) {
    if (q.host !== undefined) sel = sel.where('host', '=', q.host)
    if (q.node !== undefined) sel = sel.where('node', '=', q.node)
    if (q.uuid !== undefined) sel = sel.where('uuid', '=', q.uuid)
    if (q.access_ip_v4 !== undefined) sel = sel.where('access_ip_v4', '=', q.access_ip_v4)
    if (q.access_ip_v6 !== undefined) sel = sel.where('access_ip_v6', '=', q.access_ip_v6)
  }
  sel = tagFilters(sel, q)

  // Sorting: repeated sort_key/sort_dir pairs (common.py get_sort_params); keys Nova ignores
  // go with their direction (servers.py remove_invalid_sort_keys); uuid last makes the order
  // total, for keyset paging.
  const keys = [...(multi.sort_key ?? [])]
  const dirs = [...(multi.sort_dir ?? [])]
  for (const d of dirs) if (d !== 'asc' && d !== 'desc') throw badRequest(`Unknown sort direction, must be 'desc' or 'asc'`)
  const ignored = (k: string) => IGNORED_SORT_KEYS.has(k) && !(k === 'locked' && atLeast(req, '2.73'))
  for (const k of keys) {
    if (!(k in SORT_COLUMNS) && !IGNORED_SORT_KEYS.has(k) || (ignored(k) && atLeast(req, '2.75'))) {
      throw badRequest(`Invalid input for query parameters sort_key. Value: ${k}. '${k}' is not one of the valid sort keys`)
    }
    if ((k === 'host' || k === 'node') && !c.policy.check('context_is_admin', req.ctx)) {
      throw new CloudError('Forbidden', `Only administrators can sort servers by ${k}`)
    }
  }
  for (let i = keys.length - 1; i >= 0; i--) {
    if (ignored(keys[i]!)) { if (dirs.length > i) dirs.splice(i, 1); keys.splice(i, 1) }
  }
  const order: Array<[string, 'asc' | 'desc']> = []
  keys.forEach((k, i) => {
    const dir = (dirs[i] ?? dirs[0] ?? 'desc') as 'asc' | 'desc'
    const col = k === 'locked' ? 'locked' : SORT_COLUMNS[k]
    if (col && !order.some(([x]) => x === col)) order.push([col, dir])
  })
  if (order.length === 0) order.push(['created_at', (dirs[0] as 'asc' | 'desc' | undefined) ?? 'desc'])
  if (!order.some(([x]) => x === 'uuid')) order.push(['uuid', order[0]![1]])
  const expr = (col: string) => NOT_NULL.has(col) ? sql.ref(col) : sql`coalesce(${sql.ref(col)}, '')`
  for (const [col, dir] of order) sel = sel.orderBy(expr(col) as never, dir)

  let limit = MAX_LIMIT
  if (q.limit !== undefined) {
    if (!/^-?\d+$/.test(q.limit)) throw badRequest('limit param must be an integer')
    if (Number(q.limit) < 0) throw badRequest('limit param must be positive')
    limit = Math.min(Number(q.limit), MAX_LIMIT)
  }
  if (q.marker !== undefined) {
    let m = c.db.selectFrom('instances').selectAll().where('uuid', '=', q.marker)
    if (!allTenants) m = m.where('project_id', '=', req.ctx.projectId ?? '')
    const marker = await m.executeTakeFirst()
    if (!marker) throw badRequest(`marker [${q.marker}] not found`)
    sel = sel.where((eb) => {
      const ors: Expression<SqlBool>[] = []
      order.forEach(([col, dir], i) => {
        const val = (r: InstanceRow, k: string) => {
          const v = (r as unknown as Record<string, unknown>)[k]
          return NUMERIC.has(k) ? Number(v) : (v ?? '')
        }
        const ands: Expression<SqlBool>[] = order.slice(0, i).map(([k]) => eb(expr(k) as never, '=', val(marker, k) as never))
        ands.push(eb(expr(col) as never, dir === 'asc' ? '>' : '<', val(marker, col) as never))
        ors.push(eb.and(ands))
      })
      return eb.or(ors)
    })
  }
  if (limit === 0) return { rows: [], limit }

  const post = postFilters(q)
  if (!post) return { rows: await sel.limit(limit).execute(), limit }
  const rows = (await sel.execute()).filter(post)
  return { rows: rows.slice(0, limit), limit }
}

/** tags (all of), tags-any, not-tags (not all of), not-tags-any (none of): comma-separated lists. */
function tagFilters(sel: Q, q: Record<string, string>): Q {
  const list = (k: string) => q[k] === undefined ? undefined : q[k]!.split(',').map((t) => t.trim()).filter(Boolean)
  const has = (tag: string) => (eb: any) => eb.exists(eb.selectFrom('instance_tags as t').select('t.tag')
    .whereRef('t.uuid', '=', 'instances.uuid').where('t.tag', '=', tag))
  const all = list('tags')
  if (all) for (const t of all) sel = sel.where(has(t))
  const any = list('tags-any')
  if (any?.length) sel = sel.where((eb) => eb.or(any.map((t) => has(t)(eb))))
  const notAll = list('not-tags')
  if (notAll?.length) sel = sel.where((eb) => eb.not(eb.and(notAll.map((t) => has(t)(eb)))))
  const notAny = list('not-tags-any')
  if (notAny?.length) sel = sel.where((eb) => eb.not(eb.or(notAny.map((t) => has(t)(eb)))))
  return sel
}

/** The filters SQL cannot do portably: name and ip regexes, and the flavor inside the JSON snapshot. */
function postFilters(q: Record<string, string>): ((r: InstanceRow) => boolean) | undefined {
  const tests: Array<(r: InstanceRow) => boolean> = []
  if (q.name !== undefined) { const re = regex(q.name); tests.push((r) => re.test(r.display_name)) }
  if (q.flavor !== undefined) {
    const id = lastSegment(q.flavor)
    tests.push((r) => json<{ flavorid?: string }>(r.flavor, {}).flavorid === id)
  }
  for (const [key, version] of [['ip', 4], ['ip6', 6]] as const) {
    if (q[key] === undefined) continue
    const re = regex(q[key]!)
    tests.push((r) => Object.values(json<Record<string, Array<{ addr: string; version: number }>>>(r.addresses, {}))
      .some((ips) => ips.some((ip) => Number(ip.version) === version && re.test(ip.addr))))
  }
  if (tests.length === 0) return undefined
  return (r) => tests.every((t) => t(r))
}
