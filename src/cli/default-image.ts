import { createReadStream, existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { GlanceClient } from '../compute/clients/glance.ts'
import type { Logger } from '../core/log.ts'

// So that a newcomer can boot something at once: when the project's test guest has been built
// into DATA_DIR/guest (`cumulo guest`, i.e. scripts/build-guest.sh), `cumulo up` imports it as
// the public image `cumulo-guest` and makes a flavor that fits it, through the public APIs.

/** The image name the test guest is imported as. */
export const GUEST_IMAGE = 'cumulo-guest'
/** The flavor made for it (1 vCPU, 256 MiB, 1 GiB) when the cloud has none of that name. */
export const GUEST_FLAVOR = 'cumulo.tiny'

async function adminToken(identityUrl: string, password: string): Promise<string> {
  const r = await fetch(`${identityUrl}/auth/tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password } } },
      scope: { project: { name: 'admin', domain: { id: 'default' } } },
    } }),
  })
  const token = r.headers.get('x-subject-token')
  await r.arrayBuffer()
  if (!r.ok || !token) throw new Error(`admin login for the default image failed: ${r.status}`)
  return token
}

/** Imports DATA_DIR/guest/disk.qcow2 once (and its flavor); a no-op when it isn't built. */
export async function importGuest(o: {
  dataDir: string; identityUrl: string; imageUrl: string; computeUrl: string; adminPassword: string; log: Logger
}): Promise<void> {
  const disk = join(o.dataDir, 'guest', 'disk.qcow2')
  if (!existsSync(disk)) return
  const token = await adminToken(o.identityUrl, o.adminPassword)
  const list = await fetch(`${o.imageUrl}/v2/images?name=${GUEST_IMAGE}`, { headers: { 'x-auth-token': token } })
  const found = (await list.json() as { images?: Array<{ status: string }> }).images ?? []
  if (!found.some((i) => i.status === 'active')) {
    const glance = new GlanceClient(o.imageUrl)
    const img = await glance.create({ name: GUEST_IMAGE, disk_format: 'qcow2', container_format: 'bare', visibility: 'public',
      os_distro: 'cumulo-guest', hw_disk_bus: 'virtio' }, token)
    await glance.upload(img.id, createReadStream(disk), token, statSync(disk).size)
    o.log.info({ image: img.id }, `imported the test guest as image ${GUEST_IMAGE}`)
  }
  const f = await fetch(`${o.computeUrl}/flavors/detail`, { headers: { 'x-auth-token': token } })
  const flavors = (await f.json() as { flavors?: Array<{ name: string }> }).flavors ?? []
  if (!flavors.some((x) => x.name === GUEST_FLAVOR)) {
    const r = await fetch(`${o.computeUrl}/flavors`, {
      method: 'POST', headers: { 'x-auth-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ flavor: { name: GUEST_FLAVOR, vcpus: 1, ram: 256, disk: 1 } }),
    })
    await r.arrayBuffer()
    if (!r.ok) throw new Error(`creating flavor ${GUEST_FLAVOR} failed: ${r.status}`)
  }
}
