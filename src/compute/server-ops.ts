import { randomUUID } from 'node:crypto'
import type { Transaction } from 'kysely'
import { askAgent } from './clients/agent.ts'
import { CloudError, badRequest } from '../core/errors.ts'
import type { GlanceImage } from './clients/glance.ts'
import type { ComputeCtx } from './context.ts'
import { type FlavorSnapshot, getInstance, json } from './instances.ts'
import { claim, release, resourcesOf } from './placement.ts'
import { type Caller, type ServerActionService, type StateRule, checkState, opId } from './server-actions.ts'
import type { ComputeSchema, InstanceRow } from './schema.ts'
import type { QuotaService } from './quotas.ts'

// The server actions that involve more than a state change: rebuild (a Glance image checked
// with the caller's token), createImage (the snapshot's Glance record made with the caller's
// token), resize / confirmResize / revertResize (a placement claim on the same host) and the
// console output (asked of the host's agent synchronously).

/** createBackup's backup type and how many backups of that type to keep. */
export interface BackupSpec { type: string; rotation: number }

/** What rebuild may change besides the image (all optional; null clears where Nova allows). */
export interface RebuildInput {
  imageRef: string
  name?: string
  metadata?: Record<string, string>
  description?: string | null
  keyName?: string | null
  userData?: string | null
  accessIPv4?: string
  accessIPv6?: string
  /** OS-DCF:diskConfig (AUTO or MANUAL), kept in system_metadata as at create. */
  diskConfig?: 'AUTO' | 'MANUAL'
}

/** Glance properties a snapshot does not inherit from its server's image (Nova's NON_INHERITABLE_IMAGE_PROPERTIES). */
const NON_INHERITABLE = new Set(['cache_in_nova', 'bittorrent', 'img_signature_hash_method', 'img_signature',
  'img_signature_key_type', 'img_signature_certificate_uuid'])
/** Glance's own image attributes (not properties). */
const GLANCE_CORE = new Set(['id', 'name', 'status', 'visibility', 'owner', 'size', 'virtual_size', 'checksum', 'os_hash_algo',
  'os_hash_value', 'disk_format', 'container_format', 'min_ram', 'min_disk', 'protected', 'created_at', 'updated_at', 'tags',
  'self', 'file', 'schema', 'direct_url', 'locations', 'os_hidden', 'stores'])

/** The image's properties as Nova keeps them in system_metadata (`image_<key>`). */
export function imageSystemMetadata(img: GlanceImage): Record<string, string> {
  const out: Record<string, string> = {
    image_base_image_ref: img.id, image_min_ram: String(img.min_ram ?? 0), image_min_disk: String(img.min_disk ?? 0),
  }
  if (img.disk_format) out.image_disk_format = img.disk_format
  if (img.container_format) out.image_container_format = img.container_format
  for (const [k, v] of Object.entries(img)) {
    if (!GLANCE_CORE.has(k) && v !== null && v !== undefined) out[`image_${k}`] = typeof v === 'string' ? v : JSON.stringify(v)
  }
  return out
}

/** The actions beyond plain state changes; uses ServerActionService.apply for the state machine. */
export class ServerOpsService {
  /** `quotas` checks a resize's growth (Nova's _check_quota_for_upsize). */
  constructor(private readonly c: ComputeCtx, private readonly actions: ServerActionService, private readonly quotas: QuotaService) {}

  /**
   * rebuild: the image must exist for the caller and be active, and fit the flavor. The new
   * image_ref, name, metadata (replaced), key, user data and description are written at once,
   * with task_state rebuilding and the pending op; an ERROR server comes back running.
   */
  async rebuild(caller: Caller, uuid: string, r: RebuildInput): Promise<InstanceRow> {
    const rule: StateRule = { action: 'rebuild', vmStates: ['active', 'stopped', 'error'], lock: true, host: true }
    checkState(await this.actions.load(caller, uuid), rule, caller.isAdmin)
    const img = await this.c.glance.get(r.imageRef, caller.token)
    if (!img) throw badRequest('Cannot find image for rebuild')
    if (img.status !== 'active') throw badRequest(`Image ${img.id} is not active.`)
    const row = await getInstance(this.c.db, uuid)
    const flavor = json<FlavorSnapshot>(row.flavor, {} as FlavorSnapshot)
    if (Number(img.min_ram ?? 0) > Number(flavor.memory_mb)) throw badRequest("Flavor's memory is too small for requested image.")
    if (Number(flavor.root_gb) > 0 && (Number(img.min_disk ?? 0) > Number(flavor.root_gb)
      || Number(img.size ?? 0) > Number(flavor.root_gb) * 1024 ** 3)) throw badRequest("Flavor's disk is too small for requested image.")
    let key: { key_name: string | null; key_data: string | null } | undefined
    if (r.keyName === null) key = { key_name: null, key_data: null }
    else if (r.keyName !== undefined) {
      const kp = await this.c.db.selectFrom('key_pairs').select(['name', 'public_key']).where('user_id', '=', caller.ctx.userId)
        .where('name', '=', r.keyName).executeTakeFirst()
      if (!kp) throw badRequest('Invalid key_name provided.')
      key = { key_name: kp.name, key_data: kp.public_key }
    }
    if (r.metadata) await this.checkMetadataQuota(row.project_id, Object.keys(r.metadata).length)
    const sys = { ...json<Record<string, string>>(row.system_metadata, {}) }
    for (const k of Object.keys(sys)) if (k.startsWith('image_')) delete sys[k]
    Object.assign(sys, imageSystemMetadata(img))
    if (r.diskConfig) sys.disk_config = r.diskConfig
    return this.actions.apply(caller, uuid, rule, {
      task_state: 'rebuilding', image_ref: img.id, system_metadata: JSON.stringify(sys),
      pending_op: { id: opId(), kind: 'rebuild', imageRef: img.id },
      ...(row.vm_state === 'error' ? { desired_power: 'running' } : {}),
      ...(r.name !== undefined ? { display_name: r.name } : {}),
      ...(r.description !== undefined ? { display_description: r.description } : {}),
      ...(key ?? {}),
      ...(r.userData !== undefined ? { user_data: r.userData } : {}),
      ...(r.accessIPv4 !== undefined ? { access_ip_v4: r.accessIPv4 || null } : {}),
      ...(r.accessIPv6 !== undefined ? { access_ip_v6: r.accessIPv6 || null } : {}),
    }, {
      also: async (tx) => {
        if (!r.metadata) return
        await tx.deleteFrom('instance_metadata').where('uuid', '=', uuid).execute()
        const rows = Object.entries(r.metadata).map(([k, v]) => ({ uuid, key: k, value: v }))
        if (rows.length) await tx.insertInto('instance_metadata').values(rows).execute()
      },
    })
  }

  /** Nova's metadata_items quota (403 when a server or image would carry too many). */
  async checkMetadataQuota(projectId: string, n: number): Promise<void> {
    const q = await this.c.db.selectFrom('quotas').select('hard_limit').where('project_id', '=', projectId)
      .where('user_id', '=', '').where('resource', '=', 'metadata_items').executeTakeFirst()
    const cls = q ? undefined : await this.c.db.selectFrom('quota_classes').select('hard_limit')
      .where('class_name', '=', 'default').where('resource', '=', 'metadata_items').executeTakeFirst()
    const limit = Number(q?.hard_limit ?? cls?.hard_limit ?? 128)
    if (limit >= 0 && n > limit) throw new CloudError('Forbidden', `Quota exceeded for metadata_items: Requested ${n}, but already used 0 of ${limit} metadata_items`)
  }

  /**
   * createImage: checks the state, makes the snapshot's Glance record (queued, private, owned by
   * the server's project) with the caller's token, then sets task_state image_snapshot and the
   * pending op. A lost race deletes the record again. Returns the image id.
   */
  async createImage(caller: Caller, uuid: string, name: string, metadata: Record<string, string>, backup?: BackupSpec): Promise<string> {
    const rule: StateRule = { action: backup ? 'createBackup' : 'createImage', vmStates: ['active', 'stopped', 'paused', 'suspended'] }
    const row = await this.actions.load(caller, uuid)
    checkState(row, rule, caller.isAdmin)
    await this.checkMetadataQuota(row.project_id, Object.keys(metadata).length)
    const sys = json<Record<string, string>>(row.system_metadata, {})
    const props: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(sys)) {
      if (!k.startsWith('image_')) continue
      const p = k.slice(6)
      // Glance's own attributes of the server's image (size, checksum…, kept at create as
      // image_size etc.) are not properties a snapshot can be given.
      if (NON_INHERITABLE.has(p) || GLANCE_CORE.has(p) || p === 'base_image_ref') continue
      props[p] = v
    }
    // The caller's metadata comes last: it may override even image_type (Nova's
    // _initialize_instance_snapshot_metadata updates the properties with it).
    Object.assign(props, {
      instance_uuid: row.uuid, user_id: caller.ctx.userId, image_type: backup ? 'backup' : 'snapshot',
      base_image_ref: sys.image_base_image_ref ?? row.image_ref,
    }, metadata, backup ? { backup_type: backup.type } : {})
    // The agent uploads a qcow2; Glance needs the formats set before data arrives, and the
    // agent's client has no metadata update, so the record states them now.
    const img = await this.c.glance.create({
      ...props, name, visibility: 'private', owner: row.project_id, disk_format: 'qcow2', container_format: 'bare',
      min_ram: Number(sys.image_min_ram ?? 0), min_disk: Math.max(Number(sys.image_min_disk ?? 0), Number(json<FlavorSnapshot>(row.flavor, {} as FlavorSnapshot).root_gb ?? 0)),
    }, caller.token)
    try {
      await this.actions.apply(caller, uuid, rule, {
        task_state: backup ? 'image_backup' : 'image_snapshot', pending_op: { id: opId(), kind: 'snapshot', imageId: img.id },
      })
    } catch (e) {
      await this.c.glance.delete(img.id, caller.token).catch(() => undefined)
      throw e
    }
    if (backup) await this.rotateBackups(caller, row.uuid, backup, img.id)
    return img.id
  }

  /**
   * Nova's _rotate_backups: of the server's backups of this type (the new one included), only
   * the `rotation` newest stay; older ones are deleted in Glance as the caller. Nova rotates once
   * the upload is done; here it happens when the new backup is accepted, which leaves the same
   * images when the snapshot succeeds.
   */
  private async rotateBackups(caller: Caller, uuid: string, backup: BackupSpec, newId: string): Promise<void> {
    const all = await this.c.glance.list({ instance_uuid: uuid, image_type: 'backup', backup_type: backup.type }, caller.token)
    const others = all.filter((i) => i.id !== newId).sort((a, b) => b.created_at.localeCompare(a.created_at))
    for (const old of others.slice(Math.max(0, backup.rotation - 1))) {
      await this.c.glance.delete(old.id, caller.token).catch((e) => this.c.log.warn({ err: e, image: old.id }, 'backup rotation: delete failed'))
    }
  }

  /**
   * resize to another flavor on the same host: the new flavor's resources are claimed in
   * placement for a migration consumer (the server keeps its old allocation until confirm, as
   * Nova's migration does), the old flavor is kept in system_metadata for revert, and the
   * server's flavor becomes the new one with task_state resize_prep and the pending op.
   */
  async resize(caller: Caller, uuid: string, flavorRef: string, diskConfig?: 'AUTO' | 'MANUAL'): Promise<InstanceRow> {
    const rule: StateRule = { action: 'resize', vmStates: ['active', 'stopped'], lock: true, host: true }
    const row = await this.actions.load(caller, uuid)
    const flavor = await this.flavorSnapshot(caller, row, flavorRef)
    const current = json<FlavorSnapshot>(row.flavor, {} as FlavorSnapshot)
    checkState(row, rule, caller.isAdmin)
    if (flavor.flavorid === current.flavorid) throw badRequest('When resizing, instances must change flavor!')
    if (flavor.root_gb === 0 && Number(current.root_gb) !== 0) throw badRequest('Resize to zero disk flavor is not allowed.')
    if (flavor.root_gb < Number(current.root_gb)) throw badRequest('Unable to resize disk down.')
    // Only growth counts against the quota (a downsize frees nothing until confirm, as in Nova).
    await this.quotas.checkServerDeltas(row.project_id, {
      cores: flavor.vcpus - Number(current.vcpus), ram: flavor.memory_mb - Number(current.memory_mb),
    })
    const node = await this.c.db.selectFrom('compute_nodes').select('uuid').where('host', '=', row.host!).executeTakeFirst()
    if (!node) throw new CloudError('Conflict', `Compute host ${row.host} could not be found.`)
    const migration = randomUUID()
    const got = await claim(this.c.db, { uuid: migration, project_id: row.project_id, user_id: row.user_id }, node.uuid,
      resourcesOf(flavor, row.image_ref === ''))
    if (got !== 'claimed') {
      throw badRequest(`No valid host was found. Host ${row.host} has no room for flavor ${flavor.name} (${got}).`)
    }
    const sys: Record<string, string> = { ...json<Record<string, string>>(row.system_metadata, {}), old_flavor: row.flavor, new_flavor: JSON.stringify(flavor),
      migration_uuid: migration, old_vm_state: row.vm_state }
    if (diskConfig) sys.disk_config = diskConfig
    try {
      return await this.actions.apply(caller, uuid, rule, {
        task_state: 'resize_prep', flavor: JSON.stringify(flavor), system_metadata: JSON.stringify(sys),
        pending_op: { id: opId(), kind: 'resize', flavor },
      })
    } catch (e) {
      await release(this.c.db, migration)
      throw e
    }
  }

  /**
   * confirmResize: the old allocation goes (the migration's claim becomes the server's own)
   * and the agent drops what it kept for a revert. vm_state follows the agent's report.
   */
  async confirmResize(caller: Caller, uuid: string): Promise<InstanceRow> {
    const rule: StateRule = { action: 'confirmResize', vmStates: ['resized'], lock: true, host: true }
    return this.actions.apply(caller, uuid, rule, { pending_op: { id: opId(), kind: 'confirm_resize' } }, {
      also: async (tx, row) => {
        const sys = json<Record<string, string>>(row.system_metadata, {})
        if (sys.migration_uuid) await moveAllocations(tx, sys.migration_uuid, row)
        const { old_flavor: _o, new_flavor: _n, migration_uuid: _m, old_vm_state: _v, ...rest } = sys
        await tx.updateTable('instances').set({ system_metadata: JSON.stringify(rest) }).where('uuid', '=', uuid).execute()
      },
    })
  }

  /** revertResize: the old flavor comes back, the new claim is released; task_state resize_reverting. */
  async revertResize(caller: Caller, uuid: string): Promise<InstanceRow> {
    const rule: StateRule = { action: 'revertResize', vmStates: ['resized'], lock: true, host: true }
    const row = await this.actions.load(caller, uuid)
    const sys = json<Record<string, string>>(row.system_metadata, {})
    const old = json<FlavorSnapshot | null>(sys.old_flavor, null)
    if (!old) throw new CloudError('NotFound', `Instance ${uuid} has not been resized.`)
    const { old_flavor: _o, new_flavor: _n, migration_uuid: _m, old_vm_state: _v, ...rest } = sys
    return this.actions.apply(caller, uuid, rule, {
      task_state: 'resize_reverting', flavor: JSON.stringify(old), system_metadata: JSON.stringify(rest),
      pending_op: { id: opId(), kind: 'revert_resize', flavor: old },
    }, { also: async (tx) => { if (sys.migration_uuid) await release(tx, sys.migration_uuid) } })
  }

  /** The flavor to resize to, as a snapshot with its extra specs (400 when the caller can't use it). */
  private async flavorSnapshot(caller: Caller, row: InstanceRow, ref: string): Promise<FlavorSnapshot> {
    const id = ref.replace(/^.*\/flavors\//, '')
    const f = await this.c.db.selectFrom('flavors').selectAll().where('flavorid', '=', id).executeTakeFirst()
    let usable = !!f && !Number(f.disabled)
    if (f && usable && !Number(f.is_public) && !caller.isAdmin) {
      usable = !!await this.c.db.selectFrom('flavor_projects').select('project_id').where('flavorid', '=', id)
        .where('project_id', '=', row.project_id).executeTakeFirst()
    }
    if (!f || !usable) throw badRequest('Unable to locate requested flavor.')
    const specs = await this.c.db.selectFrom('flavor_extra_specs').selectAll().where('flavorid', '=', id).execute()
    return {
      flavorid: f.flavorid, name: f.name, vcpus: Number(f.vcpus), memory_mb: Number(f.memory_mb), root_gb: Number(f.root_gb),
      ephemeral_gb: Number(f.ephemeral_gb), swap: Number(f.swap), rxtx_factor: Number(f.rxtx_factor), is_public: !!Number(f.is_public),
      description: f.description, extra_specs: Object.fromEntries(specs.map((s) => [s.key, s.value])),
    }
  }

  /**
   * os-getConsoleOutput: asks the host's agent (`{agent_url}/instances/{uuid}/console`) with the
   * caller's own token; the last `length` lines as Nova counts them (all when absent or -1).
   */
  async consoleOutput(caller: Caller, uuid: string, length: number | undefined): Promise<string> {
    const row = await this.actions.load(caller, uuid)
    if (!row.host) throw new CloudError('Conflict', `Instance ${uuid} is not ready`)
    if (row.task_state === 'deleting' || row.task_state === 'migrating') {
      throw new CloudError('Conflict', `Cannot 'get_console_output' instance ${uuid} while it is in task_state ${row.task_state}`)
    }
    const q = length !== undefined && length >= 0 ? `?length=${length}` : ''
    const r = await askAgent(this.c, row.host, `/instances/${encodeURIComponent(uuid)}/console${q}`, caller.token)
    if (r.status === 404) throw new CloudError('NotFound', `Guest does not have a console available.`)
    const output = (r.body as { output?: unknown } | undefined)?.output
    if (typeof output !== 'string') throw new CloudError('Unavailable', `The compute agent of host ${row.host} gave no console output.`)
    return output
  }
}


/**
 * Makes a migration consumer's allocations the server's own (confirm): the server's old
 * allocations are released first, then the rows change owner; the providers' generations move.
 */
async function moveAllocations(tx: Transaction<ComputeSchema>, from: string, row: InstanceRow): Promise<void> {
  await release(tx, row.uuid)
  const held = await tx.selectFrom('allocations').select('rp_uuid').distinct().where('consumer_uuid', '=', from).execute()
  if (held.length === 0) return
  await tx.insertInto('consumers').values({ uuid: row.uuid, project_id: row.project_id, user_id: row.user_id, generation: 0 })
    .onConflict((oc) => oc.column('uuid').doNothing()).execute()
  await tx.updateTable('allocations').set({ consumer_uuid: row.uuid }).where('consumer_uuid', '=', from).execute()
  await tx.deleteFrom('consumers').where('uuid', '=', from).execute()
  for (const h of held) {
    await tx.updateTable('resource_providers').set((eb) => ({ generation: eb('generation', '+', 1) })).where('uuid', '=', h.rp_uuid).execute()
  }
}
