import { isUniqueViolation } from '../core/db/index.ts'
import { CloudError, badRequest, conflict } from '../core/errors.ts'
import type { ComputeCtx } from './context.ts'
import type { QuotaService } from './quotas.ts'
import type { KeyPairRow } from './schema.ts'
import { generateSshKeyPair, generateX509KeyPair, sshFingerprint, x509Fingerprint } from './ssh-keys.ts'

// Key pairs (nova/compute/api.py KeypairAPI): per user, named, SSH keys or X.509 certificates.

/** A stored key pair. */
export interface KeyPair {
  id: number; userId: string; name: string; type: 'ssh' | 'x509'; publicKey: string; fingerprint: string; createdAt: string
}

function toKeyPair(r: KeyPairRow): KeyPair {
  return { id: Number(r.id), userId: r.user_id, name: r.name, type: r.type as KeyPair['type'],
    publicKey: r.public_key, fingerprint: r.fingerprint, createdAt: r.created_at }
}

const SAFE = /^[a-zA-Z0-9_\- ]+$/

export const keypairNotFound = (name: string, userId: string) =>
  new CloudError('NotFound', `Keypair ${name} not found for user ${userId}`)

export class KeyPairService {
  constructor(private readonly c: ComputeCtx, private readonly quotas: QuotaService) {}

  /**
   * Imports `publicKey`, or generates a key pair when none is given (the private key is in the
   * result only). Quota: key_pairs of the user within `projectId`.
   */
  async create(o: { userId: string; projectId: string; name: string; type: 'ssh' | 'x509'; publicKey?: string }):
    Promise<KeyPair & { privateKey?: string }> {
    if (!SAFE.test(o.name)) throw badRequest('Keypair data is invalid: Keypair name contains unsafe characters')
    const limit = (await this.quotas.limits(o.projectId, o.userId)).key_pairs!
    const used = (await this.quotas.usage(o.userId)).key_pairs!
    if (limit >= 0 && used + 1 > limit) throw new CloudError('Forbidden', 'Quota exceeded, too many key pairs.')
    let publicKey = o.publicKey
    let privateKey: string | undefined
    let fingerprint: string
    if (publicKey !== undefined) {
      fingerprint = o.type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey)
    } else if (o.type === 'ssh') {
      const g = await generateSshKeyPair()
      publicKey = g.publicKey; privateKey = g.privateKey; fingerprint = g.fingerprint
    } else {
      const g = await generateX509KeyPair(`${o.projectId}-${o.userId}`)
      publicKey = g.publicKey; privateKey = g.privateKey; fingerprint = g.fingerprint
    }
    const createdAt = new Date(this.c.clock.now()).toISOString().replace(/\.\d+Z$/, '.000000')
    try {
      await this.c.db.insertInto('key_pairs').values({
        user_id: o.userId, name: o.name, type: o.type, public_key: publicKey, fingerprint, created_at: createdAt,
      } as any).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`Key pair '${o.name}' already exists.`)
      throw err
    }
    return { ...(await this.get(o.userId, o.name)), privateKey }
  }

  async get(userId: string, name: string): Promise<KeyPair> {
    const r = await this.c.db.selectFrom('key_pairs').selectAll().where('user_id', '=', userId).where('name', '=', name)
      .executeTakeFirst()
    if (!r) throw keypairNotFound(name, userId)
    return toKeyPair(r)
  }

  /** A user's key pairs by name; `marker` is the name to start after (2.35). */
  async list(userId: string, o: { limit?: number; marker?: string } = {}): Promise<KeyPair[]> {
    let sel = this.c.db.selectFrom('key_pairs').selectAll().where('user_id', '=', userId)
    if (o.marker !== undefined) {
      const m = await this.c.db.selectFrom('key_pairs').select('name').where('user_id', '=', userId)
        .where('name', '=', o.marker).executeTakeFirst()
      if (!m) throw badRequest(`marker [${o.marker}] not found`)
      sel = sel.where('name', '>', o.marker)
    }
    sel = sel.orderBy('name')
    if (o.limit !== undefined) sel = sel.limit(o.limit)
    return (await sel.execute()).map(toKeyPair)
  }

  async delete(userId: string, name: string): Promise<void> {
    const r = await this.c.db.deleteFrom('key_pairs').where('user_id', '=', userId).where('name', '=', name).executeTakeFirst()
    if (Number(r.numDeletedRows) === 0) throw keypairNotFound(name, userId)
  }
}
