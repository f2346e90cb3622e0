// Swift's path hashing: where an account, container or object lives is decided by the md5
// of its path salted with a cluster-wide secret prefix and suffix (swift.common.utils.hash_path).
import { hash as oneShotHash, randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** The cluster's secret salt for path hashing (Swift's hash_path_prefix / hash_path_suffix). */
export interface HashConfig {
  prefix: string
  suffix: string
}

/** The file, under the object data directory, that holds the cluster's HashConfig. */
export const HASH_CONFIG_FILE = 'hash.json'

/**
 * Reads `dir/hash.json`, creating it with a random prefix and suffix (mode 0600) the first time.
 * The secret must never change once data is stored (every placement depends on it), so creation
 * is race-free: the file is written completely and fsynced under a temporary name, then
 * hard-linked into place, which fails if another process got there first; the loser reads the
 * winner's file.
 */
export function loadOrCreateHashConfig(dir: string): HashConfig {
  const path = join(dir, HASH_CONFIG_FILE)
  try {
    return parseHashConfig(readFileSync(path, 'utf8'), path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(dir, { recursive: true })
  const cfg: HashConfig = { prefix: randomBytes(16).toString('hex'), suffix: randomBytes(16).toString('hex') }
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  const fd = openSync(tmp, 'wx', 0o600)
  try {
    writeSync(fd, JSON.stringify(cfg, null, 2) + '\n')
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(tmp)
  }
  const dfd = openSync(dir, 'r')
  try { fsyncSync(dfd) } finally { closeSync(dfd) }
  return parseHashConfig(readFileSync(path, 'utf8'), path)
}

/** Reads an existing hash config file (no creation), validating it as Swift's validate_configuration. */
export function readHashConfig(path: string): HashConfig {
  return parseHashConfig(readFileSync(path, 'utf8'), path)
}

function parseHashConfig(text: string, path: string): HashConfig {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new Error(`${path}: not valid JSON`)
  }
  const o = raw as Partial<HashConfig> | null
  if (!o || typeof o !== 'object' || typeof o.prefix !== 'string' || typeof o.suffix !== 'string') {
    throw new Error(`${path}: expected {"prefix": string, "suffix": string}`)
  }
  // Swift refuses to run with neither set: placement would be guessable by clients.
  if (o.prefix === '' && o.suffix === '') throw new Error(`${path}: prefix and suffix are both empty`)
  return { prefix: o.prefix, suffix: o.suffix }
}

function pathOf(cfg: HashConfig, account: string, container?: string, object?: string): string {
  if (object && !container) throw new Error('container is required if object is provided')
  let path = cfg.prefix + '/' + account
  if (container) path += '/' + container
  if (object) path += '/' + object
  return path + cfg.suffix
}

/**
 * Swift's hash_path: the 32-hex md5 of `prefix/account[/container[/object]]suffix` (UTF-8),
 * naming an account, container or object on disk. As in Swift an empty container or object
 * counts as absent, and an object without a container is an error.
 */
export function hashPath(cfg: HashConfig, account: string, container?: string, object?: string): string {
  // One-shot crypto.hash with hex output is several times faster than createHash() here.
  return oneShotHash('md5', pathOf(cfg, account, container, object), 'hex')
}

/** hashPath as the raw 16 bytes. */
export function hashPathRaw(cfg: HashConfig, account: string, container?: string, object?: string): Buffer {
  return Buffer.from(hashPath(cfg, account, container, object), 'hex')
}

/** The partition of a hash: its first 4 bytes, big-endian, shifted right by 32 - partPower. */
export function partitionOf(hash: string | Buffer, partPower: number): number {
  let top: number
  if (typeof hash === 'string') {
    if (!/^[0-9a-fA-F]{8}/.test(hash)) throw new Error(`not a hash: ${hash}`)
    top = parseInt(hash.slice(0, 8), 16)
  } else {
    top = hash.readUInt32BE(0)
  }
  // JavaScript shifts by (n mod 32), so a 32-bit shift (partPower 0) must be spelt out.
  return partPower === 0 ? 0 : top >>> (32 - partPower)
}
