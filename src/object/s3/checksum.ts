// S3's additional checksums (x-amz-checksum-crc32 / -crc32c / -sha1 / -sha256), which current
// SDKs send with every upload (as a header, or as a trailer of an aws-chunked body). Values are
// base64 of the big-endian digest. CRC32 is zlib's; CRC32C (Castagnoli) has no Node built-in,
// so it is computed here, slicing-by-8 to keep up with uploads.
import { createHash, type Hash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { s3err } from './errors.ts'

/** The checksum algorithms verified. */
export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'sha1' | 'sha256'

/** A running checksum. */
export interface Checksummer {
  update(chunk: Buffer): void
  /** base64 of the digest, as the x-amz-checksum-* headers carry it. */
  digest(): string
}

const CRC32C_TABLES = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256))
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[0]![n] = c >>> 0
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k]![n] = (t[k - 1]![n]! >>> 8) ^ t[0]![t[k - 1]![n]! & 0xff]!
  }
  return t
})()

/** CRC32C of `buf`, continuing from `crc` (0 to start). */
export function crc32c(buf: Buffer, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC32C_TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array,
    Uint32Array, Uint32Array, Uint32Array, Uint32Array]
  let c = ~crc >>> 0
  let i = 0
  const n8 = buf.length - (buf.length % 8)
  for (; i < n8; i += 8) {
    const a = (c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))) >>> 0
    c = t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^
      t3[buf[i + 4]!]! ^ t2[buf[i + 5]!]! ^ t1[buf[i + 6]!]! ^ t0[buf[i + 7]!]!
  }
  for (; i < buf.length; i++) c = t0[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

function crcSummer(fn: (b: Buffer, v: number) => number): Checksummer {
  let v = 0
  return {
    update(chunk) { v = fn(chunk, v) },
    digest() {
      const b = Buffer.alloc(4)
      b.writeUInt32BE(v >>> 0)
      return b.toString('base64')
    },
  }
}

function hashSummer(h: Hash): Checksummer {
  return { update: (c) => { h.update(c) }, digest: () => h.digest('base64') }
}

/** A new running checksum of the algorithm. */
export function checksummer(alg: ChecksumAlgorithm): Checksummer {
  switch (alg) {
    case 'crc32': return crcSummer((b, v) => crc32(b, v))
    case 'crc32c': return crcSummer(crc32c)
    case 'sha1': return hashSummer(createHash('sha1'))
    case 'sha256': return hashSummer(createHash('sha256'))
  }
}

const ALGS: readonly string[] = ['crc32', 'crc32c', 'sha1', 'sha256']

/** `x-amz-checksum-crc32` → 'crc32'; throws NotImplemented for algorithms not verified here (crc64nvme). */
export function algorithmOf(header: string): ChecksumAlgorithm {
  const alg = header.toLowerCase().replace(/^x-amz-checksum-/, '')
  if (ALGS.includes(alg)) return alg as ChecksumAlgorithm
  if (alg === 'crc64nvme') throw s3err('NotImplemented', 'The CRC64NVME checksum algorithm is not implemented by this server; use CRC32, CRC32C, SHA1 or SHA256.')
  throw s3err('InvalidRequest', `Value for x-amz-checksum-algorithm header is invalid: ${alg}`)
}
