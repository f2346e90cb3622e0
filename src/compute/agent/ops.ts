import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../core/log.ts'
import type { GlanceClient } from '../clients/glance.ts'
import type { FlavorSnapshot, PendingOp } from '../instances.ts'
import type { FlavorSpec, VirtDriver } from '../virt/driver.ts'
import type { AgentInstance, TokenProvider } from './control-client.ts'
import { type ImageCache, isUnauthorized } from './image-cache.ts'

// The one-shot operations of docs/compute.md ("pending_op"): reboot, snapshot, rebuild and the
// resize family. Each runs against the driver and yields a result for the report; a failure is
// the op's result (the server stays as it was), never a fault that would put it in ERROR.

/** What the ops need from the agent. */
export interface OpDeps {
  driver: VirtDriver
  glance: GlanceClient
  images: ImageCache
  token: TokenProvider
  /** Where snapshots are written before their upload. */
  tmpDir: string
  log: Logger
}

/** The flavor as the driver sizes instances. */
export function flavorSpec(f: FlavorSnapshot): FlavorSpec {
  return { vcpus: f.vcpus, ramMb: f.memory_mb, diskGb: f.root_gb }
}

/** Runs `op` on `inst` (which is on the hypervisor); resolves to the op's result. */
export async function runOp(d: OpDeps, inst: AgentInstance, op: PendingOp): Promise<{ result: 'ok' | 'error'; message?: string }> {
  try {
    switch (op.kind) {
      case 'reboot': await d.driver.reboot(inst.uuid, op.type === 'HARD' ? 'hard' : 'soft'); break
      case 'snapshot': await snapshot(d, inst.uuid, op.imageId); break
      case 'rebuild': await d.driver.rebuild(inst.uuid, await imageFor(d, inst, op.imageRef)); break
      case 'resize': await d.driver.resize(inst.uuid, flavorSpec(op.flavor)); break
      case 'confirm_resize': await d.driver.confirmResize(inst.uuid); break
      case 'revert_resize': await d.driver.revertResize(inst.uuid); break
      default: return { result: 'error', message: `Unknown operation ${(op as { kind: string }).kind}.` }
    }
    return { result: 'ok' }
  } catch (e) {
    d.log.warn({ err: e, uuid: inst.uuid, op: op.kind }, 'operation failed')
    return { result: 'error', message: (e as Error).message }
  }
}

/** The cached base image for `imageRef`: the watch's image facts when they are that image, else Glance's. */
export async function imageFor(d: OpDeps, inst: AgentInstance, imageRef: string) {
  if (inst.image && inst.image.id === imageRef) return d.images.ensure(inst.image)
  let img = await d.glance.get(imageRef, await d.token()).catch(async (e) => {
    if (!isUnauthorized(e)) throw e
    return d.glance.get(imageRef, await d.token({ renew: true }))
  })
  if (!img) throw new Error(`Image ${imageRef} could not be found.`)
  return d.images.ensure({ id: img.id, disk_format: img.disk_format, checksum: img.checksum, size: img.size })
}

/**
 * Writes a standalone qcow2 of the root disk and uploads it to the image record the API made.
 * On failure the record is deleted, as Nova's compute does, so no image is left queued forever.
 */
async function snapshot(d: OpDeps, uuid: string, imageId: string): Promise<void> {
  await mkdir(d.tmpDir, { recursive: true })
  const file = join(d.tmpDir, `snap-${uuid}-${randomBytes(4).toString('hex')}.qcow2`)
  try {
    await d.driver.snapshot(uuid, file)
    const { size } = await stat(file)
    try {
      await d.glance.upload(imageId, createReadStream(file), await d.token(), size)
    } catch (e) {
      if (!isUnauthorized(e)) throw e
      await d.glance.upload(imageId, createReadStream(file), await d.token({ renew: true }), size)
    }
  } catch (e) {
    await d.glance.delete(imageId, await d.token()).catch((err) =>
      d.log.warn({ err, imageId }, 'could not delete the image of a failed snapshot'))
    throw e
  } finally {
    await rm(file, { force: true })
  }
}
