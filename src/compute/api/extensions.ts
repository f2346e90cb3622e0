import type { Api } from '../../core/http/app.ts'
import { CloudError } from '../../core/errors.ts'

// GET /extensions and /extensions/{alias} (nova/api/openstack/compute/extension_info.py): the
// deprecated v2 extension list, kept for old clients. Nova lists the v2 names of the plugins it
// loaded; here, the v2 extensions whose API this cloud serves. Any authenticated caller may read it.

/** Nova's fixed namespace and date of every entry (extension_info.py FAKE_XML_URL, FAKE_UPDATED_DATE). */
const NAMESPACE = 'http://docs.openstack.org/compute/ext/fake_xml'
const UPDATED = '2014-12-03T00:00:00Z'

/** [alias, name, description] of each extension served. */
const EXTENSIONS: Array<[string, string, string]> = [
  ['OS-DCF', 'DiskConfig', 'Disk Management Extension.'],
  ['OS-EXT-AZ', 'ExtendedAvailabilityZone', 'Extended Availability Zone support.'],
  ['OS-EXT-IMG-SIZE', 'ImageSize', 'Adds image size to image listings.'],
  ['OS-EXT-IPS', 'ExtendedIps', ''],
  ['OS-EXT-IPS-MAC', 'ExtendedIpsMac', ''],
  ['OS-EXT-SRV-ATTR', 'ExtendedServerAttributes', 'Extended Server Attributes support.'],
  ['OS-EXT-STS', 'ExtendedStatus', ''],
  ['OS-FLV-DISABLED', 'FlavorDisabled', ''],
  ['OS-FLV-EXT-DATA', 'FlavorExtraData', ''],
  ['OS-SCH-HNT', 'SchedulerHints', 'Pass arbitrary key/value pairs to the scheduler.'],
  ['OS-SRV-USG', 'ServerUsage', 'Adds launched_at and terminated_at on Servers.'],
  ['os-access-ips', 'AccessIPs', 'Access IPs support.'],
  ['os-admin-actions', 'AdminActions', 'Enable admin-only server actions.'],
  ['os-availability-zone', 'AvailabilityZone', '1. Add availability_zone to the Create Server API. 2. Add availability zones describing.'],
  ['os-console-output', 'ConsoleOutput', 'Console log output support, with tailing ability.'],
  ['os-consoles', 'Consoles', 'Interactive Console support.'],
  ['os-create-backup', 'CreateBackup', 'Create a backup of a server.'],
  ['os-create-server-ext', 'Createserverext', ''],
  ['os-deferred-delete', 'DeferredDelete', 'Instance deferred delete.'],
  ['os-extended-quotas', 'ExtendedQuotas', ''],
  ['os-extended-services', 'ExtendedServices', ''],
  ['os-extended-services-delete', 'ExtendedServicesDelete', ''],
  ['os-flavor-access', 'FlavorAccess', 'Flavor access support.'],
  ['os-flavor-extra-specs', 'FlavorExtraSpecs', 'Flavors extra specs support.'],
  ['os-flavor-manage', 'FlavorManage', 'Flavor create/delete API support.'],
  ['os-flavor-rxtx', 'FlavorRxtx', 'Support to show the rxtx status of a flavor.'],
  ['os-flavor-swap', 'FlavorSwap', ''],
  ['os-hosts', 'Hosts', 'Admin-only host administration.'],
  ['os-hypervisor-status', 'HypervisorStatus', ''],
  ['os-hypervisors', 'Hypervisors', 'Admin-only hypervisor administration.'],
  ['os-instance-actions', 'InstanceActions', 'View a log of actions and events taken on an instance.'],
  ['os-keypairs', 'Keypairs', 'Keypair Support.'],
  ['os-lock-server', 'LockServer', 'Enable lock/unlock server actions.'],
  ['os-multiple-create', 'MultipleCreate', 'Allow multiple create in the Create Server v2.1 API.'],
  ['os-pause-server', 'PauseServer', 'Enable pause/unpause server actions.'],
  ['os-quota-class-sets', 'QuotaClasses', 'Quota classes management support.'],
  ['os-quota-sets', 'Quotas', 'Quotas management support.'],
  ['os-server-group-quotas', 'ServerGroupQuotas', ''],
  ['os-server-groups', 'ServerGroups', 'Server group support.'],
  ['os-server-list-multi-status', 'ServerListMultiStatus', ''],
  ['os-server-password', 'ServerPassword', 'Server password support.'],
  ['os-server-sort-keys', 'ServerSortKeys', ''],
  ['os-server-start-stop', 'ServerStartStop', ''],
  ['os-services', 'Services', 'Services support.'],
  ['os-simple-tenant-usage', 'SimpleTenantUsage', 'Simple tenant usage extension.'],
  ['os-suspend-server', 'SuspendServer', 'Enable suspend/resume server actions.'],
  ['os-user-data', 'UserData', 'Add user_data to the Create Server API.'],
  ['os-user-quotas', 'UserQuotas', ''],
]

const view = ([alias, name, description]: [string, string, string]) =>
  ({ name, alias, description, namespace: NAMESPACE, updated: UPDATED, links: [] })

/** Wires GET /extensions and /extensions/{alias}. */
export function extensionRoutes(api: Api, P: string): void {
  api.get(`${P}/extensions`, { config: { selfPolicy: true } }, async () => ({ extensions: EXTENSIONS.map(view) }))
  api.get(`${P}/extensions/:alias`, { config: { selfPolicy: true } }, async (req) => {
    const ext = EXTENSIONS.find((e) => e[0] === (req.params as { alias: string }).alias)
    if (!ext) throw new CloudError('NotFound', 'The resource could not be found.')
    return { extension: view(ext) }
  })
}
