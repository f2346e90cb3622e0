import { randomUUID } from 'node:crypto'
import type { AuthContext } from '../core/auth.ts'
import { isUniqueViolation } from '../core/db/index.ts'
import { CloudError, badRequest, conflict } from '../core/errors.ts'
import type { ComputeCtx } from './context.ts'
import type { FlavorRow } from './schema.ts'

// Flavors, their extra specs and their access lists (nova/compute/flavors.py, objects/flavor.py).

/** A flavor as the service sees it. */
export interface Flavor {
  id: string; name: string; ramMb: number; vcpus: number; diskGb: number; ephemeralGb: number
  swapMb: number; rxtxFactor: number; isPublic: boolean; disabled: boolean; description: string | null
}

export interface NewFlavor {
  id?: string | null; name: string; ramMb: number; vcpus: number; diskGb: number; ephemeralGb: number
  swapMb: number; rxtxFactor: number; isPublic: boolean; description?: string | null
}

/** List filters, as GET /flavors takes them. `isPublic` null: public and private alike. */
export interface FlavorQuery {
  isPublic: boolean | null; minRam?: number; minDisk?: number
  sortKey: string; sortDir: 'asc' | 'desc'; marker?: string; limit: number
}

/** Nova's sort keys (API names → columns; `id` is the creation order). */
export const SORT_KEYS: Record<string, keyof FlavorRow> = {
  created_at: 'created_at', description: 'description', disabled: 'disabled', ephemeral_gb: 'ephemeral_gb',
  flavorid: 'flavorid', id: 'created_at', is_public: 'is_public', memory_mb: 'memory_mb', name: 'name',
  root_gb: 'root_gb', rxtx_factor: 'rxtx_factor', swap: 'swap', updated_at: 'updated_at', vcpu_weight: 'flavorid',
  vcpus: 'vcpus',
}

export const flavorNotFound = (id: string) => new CloudError('NotFound', `Flavor ${id} could not be found.`)

function toFlavor(r: FlavorRow): Flavor {
  return {
    id: r.flavorid, name: r.name, ramMb: Number(r.memory_mb), vcpus: Number(r.vcpus), diskGb: Number(r.root_gb),
    ephemeralGb: Number(r.ephemeral_gb), swapMb: Number(r.swap), rxtxFactor: Number(r.rxtx_factor),
    isPublic: !!Number(r.is_public), disabled: !!Number(r.disabled), description: r.description,
  }
}

/** Flavor operations; admin checks are the API's (policy), visibility is decided here. */
export class FlavorService {
  constructor(private readonly c: ComputeCtx) {}

  async get(id: string): Promise<Flavor> {
    const r = await this.c.db.selectFrom('flavors').selectAll().where('flavorid', '=', id).executeTakeFirst()
    if (!r) throw flavorNotFound(id)
    return toFlavor(r)
  }

  /**
   * Nova's flavor list: admins filter on is_public as asked; others see public flavors and
   * the private ones their project was given, never disabled ones.
   */
  async list(ctx: AuthContext, isAdmin: boolean, q: FlavorQuery): Promise<Flavor[]> {
    let sel = this.c.db.selectFrom('flavors').selectAll()
    if (isAdmin) {
      if (q.isPublic !== null) sel = sel.where('is_public', '=', q.isPublic ? 1 : 0)
    } else {
      const project = ctx.projectId ?? ''
      sel = sel.where('disabled', '=', 0).where((eb) => eb.or([
        eb('is_public', '=', 1),
        eb('flavorid', 'in', eb.selectFrom('flavor_projects').select('flavorid').where('project_id', '=', project)),
      ]))
    }
    if (q.minRam !== undefined) sel = sel.where('memory_mb', '>=', q.minRam)
    if (q.minDisk !== undefined) sel = sel.where('root_gb', '>=', q.minDisk)
    const col = SORT_KEYS[q.sortKey]!
    sel = sel.orderBy(col, q.sortDir).orderBy('flavorid', q.sortDir)
    let rows = await sel.execute()
    if (q.marker !== undefined) {
      const i = rows.findIndex((r) => r.flavorid === q.marker)
      if (i < 0) throw badRequest(`marker [${q.marker}] not found`)
      rows = rows.slice(i + 1)
    }
    return rows.slice(0, q.limit).map(toFlavor)
  }

  async create(f: NewFlavor): Promise<Flavor> {
    const id = f.id ?? randomUUID()
    const dupName = await this.c.db.selectFrom('flavors').select('flavorid').where('name', '=', f.name).executeTakeFirst()
    if (dupName) throw conflict(`Flavor with name ${f.name} already exists.`)
    try {
      await this.c.db.insertInto('flavors').values({
        flavorid: id, name: f.name, memory_mb: f.ramMb, vcpus: f.vcpus, root_gb: f.diskGb, ephemeral_gb: f.ephemeralGb,
        swap: f.swapMb, rxtx_factor: f.rxtxFactor, is_public: f.isPublic ? 1 : 0, disabled: 0,
        description: f.description ?? null, created_at: new Date(this.c.clock.now()).toISOString(), updated_at: null,
      }).execute()
    } catch (err) {
      if (!isUniqueViolation(err)) throw err
      const byId = await this.c.db.selectFrom('flavors').select('flavorid').where('flavorid', '=', id).executeTakeFirst()
      throw byId ? conflict(`Flavor with ID ${id} already exists.`) : conflict(`Flavor with name ${f.name} already exists.`)
    }
    return this.get(id)
  }

  async setDescription(id: string, description: string | null): Promise<Flavor> {
    const r = await this.c.db.updateTable('flavors').set({ description, updated_at: new Date(this.c.clock.now()).toISOString() })
      .where('flavorid', '=', id).executeTakeFirst()
    if (Number(r.numUpdatedRows) === 0) throw flavorNotFound(id)
    return this.get(id)
  }

  async delete(id: string): Promise<void> {
    await this.c.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('flavor_extra_specs').where('flavorid', '=', id).execute()
      await tx.deleteFrom('flavor_projects').where('flavorid', '=', id).execute()
      const r = await tx.deleteFrom('flavors').where('flavorid', '=', id).executeTakeFirst()
      if (Number(r.numDeletedRows) === 0) throw flavorNotFound(id)
    })
  }

  /** Extra specs of flavors, keyed by flavor id. */
  async extraSpecs(ids: string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>(ids.map((i) => [i, {}]))
    if (ids.length === 0) return out
    const rows = await this.c.db.selectFrom('flavor_extra_specs').selectAll().where('flavorid', 'in', ids)
      .orderBy('key').execute()
    for (const r of rows) out.get(r.flavorid)![r.key] = r.value
    return out
  }

  /** Adds or replaces extra specs. */
  async setExtraSpecs(id: string, specs: Record<string, string>): Promise<void> {
    await this.get(id)
    await this.c.db.transaction().execute(async (tx) => {
      for (const [key, value] of Object.entries(specs)) {
        await tx.deleteFrom('flavor_extra_specs').where('flavorid', '=', id).where('key', '=', key).execute()
        await tx.insertInto('flavor_extra_specs').values({ flavorid: id, key, value }).execute()
      }
    })
  }

  async deleteExtraSpec(id: string, key: string): Promise<void> {
    await this.get(id)
    const r = await this.c.db.deleteFrom('flavor_extra_specs').where('flavorid', '=', id).where('key', '=', key).executeTakeFirst()
    if (Number(r.numDeletedRows) === 0) {
      throw new CloudError('NotFound', `Flavor ${id} has no extra specs with key ${key}.`)
    }
  }

  async accessList(id: string): Promise<string[]> {
    const f = await this.get(id)
    if (f.isPublic) throw new CloudError('NotFound', 'Access list not available for public flavors.')
    const rows = await this.c.db.selectFrom('flavor_projects').select('project_id').where('flavorid', '=', id)
      .orderBy('project_id').execute()
    return rows.map((r) => r.project_id)
  }

  async addAccess(id: string, projectId: string): Promise<void> {
    const f = await this.get(id)
    if (f.isPublic) throw conflict('Can not add access to a public flavor.')
    try {
      await this.c.db.insertInto('flavor_projects').values({ flavorid: id, project_id: projectId }).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`Flavor access already exists for flavor ${id} and project ${projectId} combination.`)
      throw err
    }
  }

  async removeAccess(id: string, projectId: string): Promise<void> {
    await this.get(id)
    const r = await this.c.db.deleteFrom('flavor_projects').where('flavorid', '=', id).where('project_id', '=', projectId)
      .executeTakeFirst()
    if (Number(r.numDeletedRows) === 0) {
      throw new CloudError('NotFound', `Flavor access not found for ${id} / ${projectId} combination.`)
    }
  }
}
