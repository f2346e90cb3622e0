// The ring file format: gzip of one JSON document. The partition tables are large
// (replicas × 2^partPower device ids), so each is stored as base64 of little-endian uint16s
// rather than as a JSON array of numbers: smaller, and decoded without a per-entry parse.
import { endianness } from 'node:os'
import { gunzipSync, gzipSync } from 'node:zlib'

/** A storage device in a ring (Swift's device dict). `meta` is free text for operators. */
export interface Dev {
  id: number
  region: number
  zone: number
  ip: string
  port: number
  device: string
  weight: number
  meta: string
}

/** What a ring is made of: the input of `new Ring()` and the content of a `.ring.json.gz`. */
export interface RingData {
  partPower: number
  /** Indexed by device id; a removed device leaves a `null` hole so ids stay stable. */
  devs: (Dev | null)[]
  /** One table per replica, partition → device id. A fractional last replica has a shorter table. */
  replica2part2dev: Uint16Array[]
  /** The builder's change counter when this ring was made (informational). */
  version: number
}

/** Highest usable device id: ids are uint16 and 0xffff marks "unassigned" in the builder. */
export const MAX_DEV_ID = 0xfffe
/** Largest partition power accepted (2^24 partitions is far past any single cluster's need). */
export const MAX_PART_POWER = 24

const LE = endianness() === 'LE'

/** Base64 of a uint16 table in little-endian byte order. */
export function u16ToBase64(a: Uint16Array): string {
  if (LE) return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')
  const b = Buffer.alloc(a.length * 2)
  for (let i = 0; i < a.length; i++) b.writeUInt16LE(a[i], i * 2)
  return b.toString('base64')
}

/** Inverse of u16ToBase64. */
export function base64ToU16(s: string): Uint16Array {
  const b = Buffer.from(s, 'base64')
  if (b.length % 2) throw new Error('uint16 table has an odd byte length')
  const out = new Uint16Array(b.length / 2)
  if (LE) new Uint8Array(out.buffer).set(b)
  else for (let i = 0; i < out.length; i++) out[i] = b.readUInt16LE(i * 2)
  return out
}

/** Base64 of a uint32 table in little-endian byte order (the builder's last-move times). */
export function u32ToBase64(a: Uint32Array): string {
  if (LE) return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')
  const b = Buffer.alloc(a.length * 4)
  for (let i = 0; i < a.length; i++) b.writeUInt32LE(a[i], i * 4)
  return b.toString('base64')
}

/** Inverse of u32ToBase64. */
export function base64ToU32(s: string): Uint32Array {
  const b = Buffer.from(s, 'base64')
  if (b.length % 4) throw new Error('uint32 table has a bad byte length')
  const out = new Uint32Array(b.length / 4)
  if (LE) new Uint8Array(out.buffer).set(b)
  else for (let i = 0; i < out.length; i++) out[i] = b.readUInt32LE(i * 4)
  return out
}

/** Checks a device record read from a file; returns it with only the known fields. */
export function checkDev(raw: unknown, id: number, where: string): Dev {
  const d = raw as Partial<Dev> | null
  const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v)
  if (!d || typeof d !== 'object' || d.id !== id || !isInt(d.region) || !isInt(d.zone) ||
      typeof d.ip !== 'string' || !isInt(d.port) || typeof d.device !== 'string' ||
      typeof d.weight !== 'number' || !(d.weight >= 0) || (d.meta !== undefined && typeof d.meta !== 'string')) {
    throw new Error(`${where}: bad device record at index ${id}`)
  }
  return { id, region: d.region!, zone: d.zone!, ip: d.ip, port: d.port!, device: d.device,
    weight: d.weight, meta: d.meta ?? '' }
}

/**
 * Checks that ring data is usable: table sizes match the partition power, and every assigned
 * id names a present device. Throws with `where` in the message.
 */
export function validateRingData(data: RingData, where = 'ring'): void {
  const { partPower, replica2part2dev: tables, devs } = data
  if (!Number.isInteger(partPower) || partPower < 0 || partPower > MAX_PART_POWER) {
    throw new Error(`${where}: bad partition power ${partPower}`)
  }
  const parts = 2 ** partPower
  if (tables.length === 0) throw new Error(`${where}: no replicas`)
  tables.forEach((t, r) => {
    if (r < tables.length - 1 ? t.length !== parts : t.length === 0 || t.length > parts) {
      throw new Error(`${where}: replica ${r} has ${t.length} entries for ${parts} partitions`)
    }
    for (let p = 0; p < t.length; p++) {
      if (!devs[t[p]]) throw new Error(`${where}: partition ${p} replica ${r} is on missing device ${t[p]}`)
    }
  })
}

/** Serializes ring data to the gzip JSON file format. */
export function encodeRing(data: RingData): Buffer {
  const doc = {
    format: 'cumulo-ring',
    formatVersion: 1,
    version: data.version,
    partPower: data.partPower,
    devs: data.devs,
    replica2part2dev: data.replica2part2dev.map(u16ToBase64),
  }
  return gzipSync(JSON.stringify(doc))
}

/** Parses and validates a gzip JSON ring file. */
export function decodeRing(buf: Buffer, where = 'ring'): RingData {
  let doc: Record<string, unknown>
  try {
    doc = JSON.parse(gunzipSync(buf).toString('utf8'))
  } catch (err) {
    throw new Error(`${where}: not a gzip JSON ring file (${(err as Error).message})`)
  }
  if (!doc || doc.format !== 'cumulo-ring' || doc.formatVersion !== 1) {
    throw new Error(`${where}: not a cumulo ring (format ${String(doc?.format)} v${String(doc?.formatVersion)})`)
  }
  if (!Array.isArray(doc.devs) || !Array.isArray(doc.replica2part2dev)) throw new Error(`${where}: missing tables`)
  const data: RingData = {
    partPower: doc.partPower as number,
    version: typeof doc.version === 'number' ? doc.version : 0,
    devs: doc.devs.map((d, i) => (d === null ? null : checkDev(d, i, where))),
    replica2part2dev: doc.replica2part2dev.map((s) => {
      if (typeof s !== 'string') throw new Error(`${where}: bad partition table`)
      return base64ToU16(s)
    }),
  }
  validateRingData(data, where)
  return data
}
