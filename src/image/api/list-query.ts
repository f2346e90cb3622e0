import { CloudError } from '../../core/errors.ts'
import { parseTime } from '../../core/clock.ts'
import type { ImageConfig } from '../config.ts'
import type { ListQuery, SortKey, TimeOp } from '../images-store.ts'

// GET /v2/images query parameters, read as Glance's RequestDeserializer.index and db filters:
// limit/marker, sort (new `sort=k:dir,…` or classic sort_key/sort_dir pairs), visibility,
// member_status, tag (repeatable), os_hidden, protected, size_min/size_max, `in:` lists,
// created_at/updated_at comparisons, any other key as a property filter.

const bad = (msg: string) => new CloudError('BadRequest', msg)
const SORT_KEYS: readonly SortKey[] = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at']
const IN_COLUMNS = ['name', 'id', 'status', 'container_format', 'disk_format']
const PLAIN_COLUMNS = ['owner', 'checksum', 'os_hash_algo', 'os_hash_value']
const INT_COLUMNS = ['size', 'virtual_size', 'min_disk', 'min_ram']
const TIME_OPS: readonly TimeOp[] = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq']

/** Query parameters as name → every value given (repeats kept in order). */
export type Params = Array<[string, string]>

function sortKey(k: string): SortKey {
  if (!SORT_KEYS.includes(k as SortKey)) throw bad(`Invalid sort key: ${k}. It must be one of the following: ${SORT_KEYS.join(', ')}.`)
  return k as SortKey
}
function sortDir(d: string): 'asc' | 'desc' {
  if (d !== 'asc' && d !== 'desc') throw bad(`Invalid sort direction: ${d}`)
  return d
}

/** Splits an `op:value` filter ('in:a,b', 'gt:2020-01-01T00:00:00Z'); a bare time is `eq`. */
function splitOp(v: string): [string, string] {
  const i = v.indexOf(':')
  if (i < 0 || !Number.isNaN(parseTime(v))) return ['eq', v]
  return [v.slice(0, i), v.slice(i + 1)]
}

/** Glance's split_filter_value_for_quotes: a,b,"c,d" → ['a', 'b', 'c,d']. */
export function splitQuoted(value: string): string[] {
  let open = false
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '"' || (i > 0 && value[i - 1] === '\\')) continue
    if (!open && i > 0 && value[i - 1] !== ',') throw bad(`Invalid filter value ${value}. There is no comma before opening quotation mark.`)
    if (open && i + 1 !== value.length && value[i + 1] !== ',') throw bad(`Invalid filter value ${value}. There is no comma after closing quotation mark.`)
    open = !open
  }
  if (open) throw bad(`Invalid filter value ${value}. The quote is not closed.`)
  const out: string[] = []
  const re = /"([^"\\]*(?:\\.[^"\\]*)*)",?|([^,]+),?|,/g
  for (const m of value.matchAll(re)) out.push(m[1] ?? m[2] ?? '')
  return out
}

function intValue(k: string, v: string): number {
  if (!/^-?\d+$/.test(v.trim())) throw bad(`Invalid value '${v}' for '${k}' filter: an integer is expected.`)
  return Number(v)
}

/** Reads the whole query; throws Glance's 400 for anything it would refuse. */
export function parseListQuery(params: Params, cfg: ImageConfig): Omit<ListQuery, 'caller' | 'marker'> & { marker?: string } {
  const q: Omit<ListQuery, 'caller' | 'marker'> & { marker?: string } = {
    memberStatus: 'accepted', osHidden: false, equal: [], within: [], times: [], ranges: [], properties: [], tags: [],
    sort: [], limit: cfg.limitDefault,
  }
  const sortKeys: SortKey[] = []
  const sortDirs: Array<'asc' | 'desc'> = []
  let newSort: string | undefined
  for (const [k, raw] of params) {
    const v = raw
    switch (k) {
      case 'limit': {
        if (!/^-?\d+$/.test(v.trim())) throw bad('limit param must be an integer')
        const n = Number(v)
        if (n < 0) throw bad('limit param must be positive')
        q.limit = Math.min(n, cfg.limitMax)
        break
      }
      case 'marker': q.marker = v; break
      case 'member_status':
        if (!['pending', 'accepted', 'rejected', 'all'].includes(v)) throw bad(`Invalid status: ${v}`)
        q.memberStatus = v as ListQuery['memberStatus']; break
      case 'visibility':
        if (!['community', 'public', 'private', 'shared', 'all'].includes(v)) throw bad(`Invalid visibility value: ${v}`)
        q.visibility = v as ListQuery['visibility']; break
      case 'tag': q.tags.push(v.trim()); break
      case 'sort': newSort = v; break
      case 'sort_key': sortKeys.push(sortKey(v.trim())); break
      case 'sort_dir': sortDirs.push(sortDir(v.trim())); break
      case 'changes-since': throw bad('The "changes-since" filter is no longer available on v2.')
      case 'os_hidden': {
        const s = v.toLowerCase()
        if (s !== 'true' && s !== 'false') throw bad(`Invalid value '${v}' for 'os_hidden' filter. Valid values are 'true' or 'false'.`)
        q.osHidden = s === 'true'; break
      }
      case 'protected':
        if (v !== 'true' && v !== 'false') throw bad(`Invalid value '${v}' for 'protected' filter. Valid values are 'true' or 'false'.`)
        q.protected = v === 'true'; break
      case 'created_at': case 'updated_at': {
        const [op, t] = splitOp(v)
        if (!TIME_OPS.includes(op as TimeOp)) throw bad('Unable to filter on a unknown operator.')
        const ms = parseTime(t)
        if (Number.isNaN(ms)) throw bad(`Bad "${k}" query filter format. Use ISO 8601 DateTime notation.`)
        q.times.push({ column: k, op: op as TimeOp, value: new Date(ms).toISOString() })
        break
      }
      default:
        if (/_(min|max)$/.test(k) && INT_COLUMNS.includes(k.slice(0, -4))) {
          if (!/^-?\d+$/.test(v.trim())) throw bad('Unable to filter on a range with a non-numeric value.')
          q.ranges.push({ column: k.slice(0, -4) as 'size', op: k.endsWith('_min') ? '>=' : '<=', value: Number(v) })
        } else if (IN_COLUMNS.includes(k)) {
          const [op, list] = splitOp(v)
          if (op === 'in') q.within.push([k, splitQuoted(list)])
          else if (op === 'eq') q.equal.push([k, list])
          else throw bad(`Unable to filter by unknown operator '${op}'.`)
        } else if (PLAIN_COLUMNS.includes(k)) q.equal.push([k, v])
        else if (INT_COLUMNS.includes(k)) q.equal.push([k, intValue(k, v)])
        else q.properties.push([k, v])
    }
  }
  if (newSort !== undefined) {
    if (sortKeys.length || sortDirs.length) throw bad('Old and new sorting syntax cannot be combined')
    for (const part of newSort.trim().split(',')) {
      const [key, dir] = part.split(':')
      q.sort.push({ key: sortKey(key!.trim()), dir: sortDir((dir ?? 'desc').trim() || 'desc') })
    }
  } else {
    if (sortDirs.length > 1 && sortDirs.length !== sortKeys.length) throw bad('Number of sort dirs does not match the number of sort keys')
    const keys = sortKeys.length ? sortKeys : ['created_at' as SortKey]
    q.sort = keys.map((key, i) => ({ key, dir: sortDirs.length > 1 ? sortDirs[i]! : (sortDirs[0] ?? 'desc') }))
  }
  // created_at and id always end the order, so pages never skip or repeat rows.
  const lastDir = q.sort[q.sort.length - 1]?.dir ?? 'desc'
  for (const key of ['created_at', 'id'] as const) if (!q.sort.some((s) => s.key === key)) q.sort.push({ key, dir: lastDir })
  return q
}
