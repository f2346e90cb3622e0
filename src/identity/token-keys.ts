import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A rotating key repository, as Keystone's fernet-keys: files named 0..N holding 32 random
 * bytes each. The highest number is the primary (encrypts); every key still present
 * decrypts, so tokens survive a rotation. 0 is the staged key, promoted at the next rotation,
 * so several controllers can receive it before any of them encrypts with it.
 */
export class KeyRepository {
  private keys = new Map<number, Buffer>()
  private primary = 0

  private constructor(private readonly dir: string | null) {}

  /** Opens (and on first use creates) the repository in `dir`; `null` keeps keys in memory. */
  static open(dir: string | null): KeyRepository {
    const r = new KeyRepository(dir)
    if (dir) {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      if (readdirSync(dir).filter((f) => /^\d+$/.test(f)).length === 0) {
        r.writeKey(0, randomBytes(32))
        r.writeKey(1, randomBytes(32))
      }
      r.load()
    } else {
      r.keys.set(0, randomBytes(32)); r.keys.set(1, randomBytes(32)); r.primary = 1
    }
    return r
  }

  /** Re-reads the key files (another process may have rotated them); true when they changed. */
  load(): boolean {
    if (!this.dir) return false
    const keys = new Map<number, Buffer>()
    for (const f of readdirSync(this.dir)) {
      if (!/^\d+$/.test(f)) continue
      const k = Buffer.from(readFileSync(join(this.dir, f), 'utf8').trim(), 'base64')
      if (k.length === 32) keys.set(Number(f), k)
    }
    if (keys.size < 2) throw new Error(`token key repository ${this.dir} holds fewer than 2 keys`)
    const changed = keys.size !== this.keys.size ||
      [...keys].some(([n, k]) => !this.keys.get(n)?.equals(k))
    this.keys = keys
    this.primary = Math.max(...keys.keys())
    return changed
  }

  /**
   * Promotes the staged key to primary, stages a new one, and keeps at most `maxActive`
   * keys (the oldest secondaries go; tokens they encrypted stop validating).
   */
  rotate(maxActive = 3): void {
    const staged = this.keys.get(0)!
    const next = this.primary + 1
    this.writeKey(next, staged)
    this.writeKey(0, randomBytes(32))
    if (!this.dir) { this.keys.set(next, staged); this.primary = next }
    else this.load()
    const secondaries = [...this.keys.keys()].filter((n) => n !== 0 && n !== this.primary).sort((a, b) => a - b)
    while (secondaries.length + 2 > maxActive && secondaries.length > 0) {
      const n = secondaries.shift()!
      this.keys.delete(n)
      if (this.dir) rmSync(join(this.dir, String(n)), { force: true })
    }
  }

  /** Encrypts and authenticates: base64url(version 1 | key number u32 | iv 12 | ciphertext | tag 16). */
  seal(plain: Buffer): string {
    const key = this.keys.get(this.primary)!
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', key, iv)
    const head = Buffer.alloc(5)
    head.writeUInt8(1, 0); head.writeUInt32BE(this.primary, 1)
    c.setAAD(head)
    const body = Buffer.concat([c.update(plain), c.final()])
    return Buffer.concat([head, iv, body, c.getAuthTag()]).toString('base64url')
  }

  /** Returns the plaintext, or null when the token is not one of ours (forged, tampered, unknown key). */
  open(token: string): Buffer | null {
    if (token.length < 44 || token.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(token)) return null
    const raw = Buffer.from(token, 'base64url')
    if (raw.length < 5 + 12 + 16 + 1 || raw[0] !== 1) return null
    const key = this.keys.get(raw.readUInt32BE(1))
    if (!key) return null
    try {
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(5, 17))
      d.setAAD(raw.subarray(0, 5))
      d.setAuthTag(raw.subarray(raw.length - 16))
      return Buffer.concat([d.update(raw.subarray(17, raw.length - 16)), d.final()])
    } catch {
      return null
    }
  }

  private writeKey(n: number, key: Buffer): void {
    if (!this.dir) { this.keys.set(n, key); return }
    const p = join(this.dir, String(n))
    const tmp = p + '.tmp'
    writeFileSync(tmp, key.toString('base64') + '\n', { mode: 0o600 })
    renameSync(tmp, p)
  }
}
