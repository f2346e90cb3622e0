import { createHash, randomBytes } from 'node:crypto'

// The instance metadata service's documents (what a guest reads from 169.254.169.254): the
// OpenStack layout under /openstack and the EC2 layout under /latest and the dated versions.
// Pure functions of one server's facts, so that the compute agent (per-instance Unix socket)
// and later the network service's metadata proxy answer exactly the same thing.

/** What the metadata documents are built from: a subset of the agent's AgentInstance. */
export interface MetadataInstance {
  uuid: string
  name: string
  hostname: string
  project_id: string
  availability_zone: string
  launch_index: number
  reservation_id: string
  image_ref: string
  key_name: string | null
  key_data: string | null
  /** Base64, as the API received it (Nova stores it so); null when none. */
  user_data: string | null
  metadata: Record<string, string>
  flavor: { name: string }
  nics: Array<{ mac: string; mode?: string; ipv4?: string | null }>
}

/** Settings of the metadata documents. */
export interface MetadataOptions {
  /** Appended to the hostname (Nova's [api] dhcp_domain, default `novalocal`; '' for none). */
  dhcpDomain?: string
}

/** One answer of the metadata service. */
export interface MetadataAnswer {
  status: number
  contentType: string
  body: string | Buffer
}

/** The OpenStack metadata versions Nova serves (nova/api/metadata/base.py), oldest first. */
export const OPENSTACK_VERSIONS = [
  '2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2016-10-06',
  '2017-02-22', '2018-08-27', '2020-10-14',
]
/** The EC2 metadata versions Nova serves, oldest first. */
export const EC2_VERSIONS = [
  '1.0', '2007-01-19', '2007-03-01', '2007-08-29', '2007-10-10', '2007-12-15', '2008-02-01',
  '2008-09-01', '2009-04-04',
]

const TEXT = 'text/plain; charset=UTF-8'
const JSON_TYPE = 'application/json'

/** The guest's fully qualified hostname, as Nova's metadata gives it. */
export function metadataHostname(inst: MetadataInstance, o: MetadataOptions = {}): string {
  const domain = o.dhcpDomain ?? 'novalocal'
  return domain ? `${inst.hostname}.${domain}` : inst.hostname
}

/** An EC2-style id (`i-xxxxxxxx`, `ami-xxxxxxxx`): Nova formats its integer ids; we hash the uuid. */
export function ec2Id(prefix: string, uuid: string): string {
  return `${prefix}-${createHash('sha256').update(uuid).digest('hex').slice(0, 8)}`
}

/** The user data's bytes, or undefined when the server has none. */
export function userDataBytes(inst: MetadataInstance): Buffer | undefined {
  if (inst.user_data === null || inst.user_data === undefined || inst.user_data === '') return undefined
  return Buffer.from(inst.user_data, 'base64')
}

/** `/openstack/<version>/meta_data.json`. */
export function openstackMetaData(inst: MetadataInstance, o: MetadataOptions = {}): Record<string, unknown> {
  const hasKey = !!inst.key_name && !!inst.key_data
  return {
    uuid: inst.uuid,
    meta: { ...inst.metadata },
    public_keys: hasKey ? { [inst.key_name!]: inst.key_data } : {},
    keys: hasKey ? [{ name: inst.key_name, type: 'ssh', data: inst.key_data }] : [],
    hostname: metadataHostname(inst, o),
    name: inst.name,
    launch_index: inst.launch_index,
    availability_zone: inst.availability_zone,
    // Nova hands out fresh entropy on every read (2013-04-04+); cloud-init seeds the RNG with it.
    random_seed: randomBytes(512).toString('base64'),
    project_id: inst.project_id,
    devices: [],
  }
}

/** `/openstack/<version>/network_data.json`: one link and one DHCP network per NIC. */
export function openstackNetworkData(inst: MetadataInstance): Record<string, unknown> {
  const links = inst.nics.map((n, i) => ({
    id: `tap${i}`, vif_id: `nic${i}`, type: 'vif', mtu: 1500, ethernet_mac_address: n.mac,
  }))
  // QEMU user-mode networking runs a DHCP server in the virtual network; the guest asks it.
  const networks = inst.nics.map((_n, i) => ({
    id: `network${i}`, type: 'ipv4_dhcp', link: `tap${i}`, network_id: `user-${i}`,
  }))
  return { links, networks, services: [] }
}

/** The EC2 `meta-data` tree: strings are leaves, objects are folders. */
export function ec2MetaData(inst: MetadataInstance, o: MetadataOptions = {}): Record<string, unknown> {
  const hostname = metadataHostname(inst, o)
  const tree: Record<string, unknown> = {
    'ami-id': ec2Id('ami', inst.image_ref || inst.uuid),
    'ami-launch-index': String(inst.launch_index),
    'block-device-mapping': { ami: 'vda', root: '/dev/vda' },
    hostname,
    'instance-action': 'none',
    'instance-id': ec2Id('i', inst.uuid),
    'instance-type': inst.flavor.name,
    'local-hostname': hostname,
    placement: { 'availability-zone': inst.availability_zone },
    'public-hostname': hostname,
    'reservation-id': inst.reservation_id,
  }
  const ip = inst.nics.find((n) => n.ipv4)?.ipv4
  if (ip) tree['local-ipv4'] = ip
  if (inst.key_name && inst.key_data) {
    tree['public-keys'] = { [`0=${inst.key_name}`]: { 'openssh-key': inst.key_data } }
  }
  return tree
}

/**
 * Answers one GET of the metadata service for `inst` (the path as the guest asked it, with or
 * without a query string). Unknown paths are 404, as in Nova.
 */
export function metadataAnswer(inst: MetadataInstance, rawPath: string, o: MetadataOptions = {}): MetadataAnswer {
  const path = rawPath.split('?')[0]!.replace(/\/{2,}/g, '/')
  const parts = path.split('/').filter((p) => p !== '')
  const dir = path.endsWith('/') || parts.length === 0
  const ud = userDataBytes(inst)
  if (parts.length === 0) return text([...EC2_VERSIONS, 'latest'].join('\n'))
  if (parts[0] === 'openstack') {
    if (parts.length === 1) return text([...OPENSTACK_VERSIONS, 'latest'].join('\n'))
    const version = parts[1]!
    if (version !== 'latest' && !OPENSTACK_VERSIONS.includes(version)) return notFound()
    if (parts.length === 2) {
      const files = ['meta_data.json', 'password', 'vendor_data.json', 'network_data.json', 'vendor_data2.json']
      if (ud) files.splice(2, 0, 'user_data')
      return text(files.join('\n'))
    }
    if (parts.length !== 3) return notFound()
    switch (parts[2]) {
      case 'meta_data.json': return json(openstackMetaData(inst, o))
      case 'network_data.json': return json(openstackNetworkData(inst))
      case 'vendor_data.json': case 'vendor_data2.json': return json({})
      // Nova answers the stored password ('' until the guest posts one); we keep none.
      case 'password': return text('')
      case 'user_data': return ud ? { status: 200, contentType: 'application/octet-stream', body: ud } : notFound()
      default: return notFound()
    }
  }
  const version = parts[0]!
  if (version !== 'latest' && !EC2_VERSIONS.includes(version)) return notFound()
  if (parts.length === 1) return text(ud ? 'meta-data/\nuser-data' : 'meta-data/')
  if (parts[1] === 'user-data' && parts.length === 2) return ud ? { status: 200, contentType: 'application/octet-stream', body: ud } : notFound()
  if (parts[1] !== 'meta-data') return notFound()
  let node: unknown = ec2MetaData(inst, o)
  for (const p of parts.slice(2)) {
    if (typeof node !== 'object' || node === null) return notFound()
    const obj = node as Record<string, unknown>
    // public-keys/0/… addresses the entry listed as `0=<name>`.
    const key = p in obj ? p : Object.keys(obj).find((k) => k.split('=')[0] === p)
    if (key === undefined) return notFound()
    node = obj[key]
  }
  if (typeof node === 'string') return dir ? notFound() : text(node)
  const obj = node as Record<string, unknown>
  return text(Object.keys(obj).sort().map((k) => {
    if (k.includes('=')) return k
    return typeof obj[k] === 'object' ? `${k}/` : k
  }).join('\n'))
}

function text(body: string): MetadataAnswer { return { status: 200, contentType: TEXT, body } }
function json(body: unknown): MetadataAnswer { return { status: 200, contentType: JSON_TYPE, body: JSON.stringify(body) } }
function notFound(): MetadataAnswer {
  return { status: 404, contentType: 'text/html; charset=UTF-8',
    body: '<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  The resource could not be found.<br /><br />\n\n\n\n </body>\n</html>' }
}
