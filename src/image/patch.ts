import { CloudError } from '../core/errors.ts'
import type { ImageSchemas } from './image-schema.ts'

// PATCH /v2/images/{id} bodies (glance/api/v2/images.py RequestDeserializer.update). Glance
// accepts two dialects, told apart by the media type:
//   application/openstack-images-v2.1-json-patch  RFC 6902: {"op": "replace", "path": "/name", "value": …}
//   application/openstack-images-v2.0-json-patch  draft 4:  {"replace": "/name", "value": …}
// (Tempest sends the second, the SDK and OSC the first.)

export const PATCH_MEDIA_TYPES: Record<string, 4 | 10> = {
  'application/openstack-images-v2.0-json-patch': 4,
  'application/openstack-images-v2.1-json-patch': 10,
}

/** The operations Glance supports (no move, copy or test). */
export type PatchOp = 'add' | 'remove' | 'replace'
const OPS: readonly PatchOp[] = ['add', 'remove', 'replace']

/** One parsed change: the path as decoded JSON-pointer parts, e.g. ['name'] or ['locations', '-']. */
export interface Change {
  op: PatchOp
  path: string[]
  value?: unknown
  /** 4 or 10: in draft 4, `add` of an existing attribute is a conflict. */
  draft: 4 | 10
}

const READ_ONLY = ['created_at', 'updated_at', 'status', 'checksum', 'size', 'virtual_size', 'direct_url', 'self',
  'file', 'schema', 'id', 'os_hash_algo', 'os_hash_value']
const RESERVED = ['location', 'deleted', 'deleted_at']
/** Properties Glance keeps for itself (common.GLANCE_RESERVED_NS). */
export const RESERVED_PREFIX = 'os_glance'
const bad = (msg: string) => new CloudError('BadRequest', msg)

/** Throws Glance's 403 for attributes nobody may set. */
export function checkSettable(key: string, readOnly: readonly string[] = READ_ONLY): void {
  if (readOnly.includes(key)) throw new CloudError('Forbidden', `Attribute '${key}' is read-only.`)
  if (RESERVED.includes(key) || key.startsWith(RESERVED_PREFIX)) throw new CloudError('Forbidden', `Attribute '${key}' is reserved.`)
}

/** Parses a JSON pointer the limited way Glance accepts them. */
export function decodePointer(pointer: string): string[] {
  if (!pointer.startsWith('/')) throw bad(`Pointer \`${pointer}\` does not start with "/".`)
  if (/\/\s*?\//.test(pointer.slice(1))) throw bad(`Pointer \`${pointer}\` contains adjacent "/".`)
  if (pointer.length > 1 && pointer.endsWith('/')) throw bad(`Pointer \`${pointer}\` end with "/".`)
  if (pointer.slice(1).trim() === '/') throw bad(`Pointer \`${pointer}\` does not contains valid token.`)
  if (/~[^01]/.test(pointer) || pointer.endsWith('~')) {
    throw bad(`Pointer \`${pointer}\` contains "~" not part of a recognized escape sequence.`)
  }
  return pointer.replace(/^\/+/, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~').trim())
}

function opOf(raw: Record<string, unknown>, draft: 4 | 10): { op: PatchOp; pointer: unknown } {
  if (draft === 10) {
    const op = raw.op
    if (op === undefined) throw bad(`Unable to find \`op\` in JSON Schema change. It must be one of the following: ${OPS.join(', ')}.`)
    if (!OPS.includes(op as PatchOp)) throw bad(`Invalid operation: \`${String(op)}\`. It must be one of the following: ${OPS.join(', ')}.`)
    if (!('path' in raw)) throw bad("Unable to find 'path' in JSON Schema change")
    return { op: op as PatchOp, pointer: raw.path }
  }
  const present = OPS.filter((k) => k in raw)
  if (present.length > 1) throw bad('Operation objects must contain only one member named "add", "remove", or "replace".')
  if (present.length === 0) throw bad('Operation objects must contain exactly one member named "add", "remove", or "replace".')
  return { op: present[0]!, pointer: raw[present[0]!] }
}

/** Parses and validates a whole patch document; nothing is applied yet. */
export function parsePatch(body: unknown, draft: 4 | 10, schemas: ImageSchemas): Change[] {
  if (!Array.isArray(body)) throw bad('Request body must be a JSON array of operation objects.')
  const changes: Change[] = []
  for (const raw of body) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('Operations must be JSON objects.')
    const { op, pointer } = opOf(raw as Record<string, unknown>, draft)
    if (typeof pointer !== 'string') throw bad('Pointer must be a string.')
    const path = decodePointer(pointer)
    const root = path[0]!
    // Only locations have a second level (/locations/0, /locations/-).
    const depth = root === 'locations' ? ({ add: 2, remove: 2, replace: 1 } as const)[op] : 1
    if (path.length !== depth) throw bad(`Invalid JSON pointer for this resource: '/${path.join('/')}'`)
    const change: Change = { op, path, draft }
    if (op !== 'remove') {
      if (!('value' in (raw as object))) throw bad(`Operation "${op}" requires a member named "value".`)
      change.value = (raw as Record<string, unknown>).value
    }
    checkSettable(root)
    if (op !== 'remove') schemas.check(path.length === 1 ? { [root]: change.value } : { [root]: [change.value] })
    changes.push(change)
  }
  return changes
}
