// Names and constants of object versioning (Swift's versioned_writes/object_versioning.py and
// request_helpers' reserved names). Versions live in a hidden container whose name starts with
// Swift's reserved byte (\x00), which clients can neither send in a path nor see in listings;
// a version object's name carries the object name and the *inverted* version timestamp, so a
// plain name-ordered listing of one object's versions comes out newest first.
import { Timestamp } from '../ring/timestamp.ts'
import { SwiftError } from './errors.ts'

/** Swift's RESERVED byte: names starting with it are internal. */
export const RESERVED = '\x00'
/** The content type that marks a delete marker (both versioning modes). */
export const DELETE_MARKER_CONTENT_TYPE = 'application/x-deleted;swift_versions_deleted=1'
/** MD5 of the empty string: the ETag of a delete marker and of a link object. */
export const MD5_OF_EMPTY = 'd41d8cd98f00b204e9800998ecf8427e'

/** Container sysmeta of the new mode: "True"/"False" once versioning was ever set. */
export const SYSMETA_VERSIONS_ENABLED = 'x-container-sysmeta-versions-enabled'
/** Container sysmeta of the new mode: the (quoted) hidden versions container. */
export const SYSMETA_VERSIONS_CONT = 'x-container-sysmeta-versions-container'
/** Container sysmeta of the legacy modes: the (client-given) archive container. */
export const SYSMETA_VERSIONS_LOC = 'x-container-sysmeta-versions-location'
/** Container sysmeta of the legacy modes: "stack" or "history". */
export const SYSMETA_VERSIONS_MODE = 'x-container-sysmeta-versions-mode'

/** Object sysmeta of a link written by versioning (Swift's versions-symlink). */
export const SYSMETA_VERSIONS_SYMLINK = 'x-object-sysmeta-versions-symlink'
/** Object sysmeta of a link: "<container>/<object>", quoted (Swift's symlink-target). */
export const SYMLINK_TARGET = 'x-object-sysmeta-symlink-target'
/** Object sysmeta of a link: the target's ETag. */
export const SYMLINK_TARGET_ETAG = 'x-object-sysmeta-symlink-target-etag'
/** Object sysmeta of a link: the target's size. */
export const SYMLINK_TARGET_BYTES = 'x-object-sysmeta-symlink-target-bytes'
/** The container-update override that carries a link's target into the container listing. */
export const OVERRIDE_ETAG = 'x-object-sysmeta-container-update-override-etag'
/** Lets an internal request name reserved containers and objects (never accepted from clients). */
export const ALLOW_RESERVED = 'x-backend-allow-reserved-names'

const MAX_RAW = 999_999_999_999_999

/** Swift's get_reserved_name: RESERVED + parts joined by RESERVED; no part may contain it. */
export function reservedName(...parts: string[]): string {
  if (parts.some((p) => p.includes(RESERVED))) throw new Error('Invalid reserved part in components')
  return RESERVED + parts.join(RESERVED)
}

/** Swift's split_reserved_name; undefined for a name that is not reserved. */
export function splitReservedName(name: string): string[] | undefined {
  return name.startsWith(RESERVED) ? name.split(RESERVED).slice(1) : undefined
}

/** The hidden container holding the versions of `container`'s objects. */
export function versionsContainerName(container: string): string {
  return reservedName('versions', container)
}

/** The user container a hidden versions container belongs to (the name itself when it is not one). */
export function splitVersionsContainerName(name: string): string {
  const parts = splitReservedName(name)
  return parts && parts.length === 2 && parts[0] === 'versions' ? parts[1]! : name
}

/** Swift's ~Timestamp: the time mirrored below 10^10 s, so later times sort first. */
export function invertTimestamp(t: Timestamp): Timestamp {
  if (t.offset !== 0n) throw new Error('Cannot invert timestamps with offsets')
  return new Timestamp(0, { delta: MAX_RAW - t.raw })
}

/** A version id of a timestamp (Swift's timestamp_to_version: the offset is dropped). */
export function timestampToVersion(t: Timestamp | string): string {
  return new Timestamp(t).normal
}

/** The prefix of every version object of `obj` (a listing prefix or marker). */
export function versionsObjectPrefix(obj: string): string {
  return reservedName(obj, '')
}

/** The hidden object holding version `versionId` of `obj`. */
export function versionObjectName(obj: string, versionId: string): string {
  return reservedName(obj, invertTimestamp(new Timestamp(versionId)).internal)
}

/** The object name and version id of a hidden version object; versionId null when it is not one. */
export function parseVersionObjectName(name: string): { name: string; versionId: string | null } {
  const parts = splitReservedName(name)
  if (!parts || parts.length !== 2) return { name, versionId: null }
  try {
    return { name: parts[0]!, versionId: invertTimestamp(new Timestamp(parts[1]!)).internal }
  } catch {
    return { name, versionId: null }
  }
}

/**
 * Swift's validate_version: "null" (when allowed) or a timestamp; 400 otherwise. Timestamps
 * with an offset are refused too: no version id carries one.
 */
export function validateVersion(version: string, allowNull = true): void {
  if (version === 'null' && allowNull) return
  let t: Timestamp
  try { t = new Timestamp(version) } catch { throw SwiftError.text(400, 'Invalid version parameter') }
  if (t.offset !== 0n) throw SwiftError.text(400, 'Invalid version parameter')
}

/**
 * Swift's legacy archive prefix: the object name's length as 3 hex digits, the name, "/". Swift
 * measures the WSGI string, i.e. the name's UTF-8 bytes.
 */
export function legacyVersionsPrefix(obj: string): string {
  return Buffer.byteLength(obj).toString(16).padStart(3, '0') + obj + '/'
}

/** Swift's legacy archive name: `<3-hex length><name>/<timestamp>`. */
export function legacyVersionName(obj: string, ts: Timestamp | string): string {
  return legacyVersionsPrefix(obj) + new Timestamp(ts).internal
}

/** Python's str(True/False) as Swift stores boolean sysmeta. */
export const pyBool = (v: boolean) => (v ? 'True' : 'False')

/** Swift's config_true_value. */
export function isTrueValue(v: string | undefined): boolean {
  return v !== undefined && ['true', '1', 'yes', 'on', 't', 'y'].includes(v.trim().toLowerCase())
}
