import type { IdentityCtx } from './context.ts'
import { hashPassword } from './passwords.ts'
import { newId } from './api/common.ts'

export interface BootstrapOptions {
  adminPassword: string
  /** Set the admin's password even when the user exists already. */
  resetPassword?: boolean
  region?: string
}

export interface BootstrapResult {
  adminUserId: string
  adminProjectId: string
  /** True when this run created the admin user (first start). */
  created: boolean
}

const ROLES = ['admin', 'member', 'reader', 'service', 'ResellerAdmin']

/**
 * First-start data, idempotent (as `keystone-manage bootstrap`): the Default domain, the
 * standard roles with admin→member→reader implied, the admin project and user with the
 * admin role on the project and the system, and the region.
 */
export async function bootstrapIdentity(c: IdentityCtx, o: BootstrapOptions): Promise<BootstrapResult> {
  const db = c.db
  const now = new Date(c.clock.now()).toISOString()
  if (!(await db.selectFrom('domains').select('id').where('id', '=', 'default').executeTakeFirst())) {
    await db.insertInto('domains').values({ id: 'default', name: 'Default', description: 'The default domain',
      enabled: 1, extra: '{}', created_at: now }).execute()
  }
  const roleIds: Record<string, string> = {}
  for (const name of ROLES) {
    const r = await db.selectFrom('roles').select('id').where('name', '=', name).where('domain_id', '=', '').executeTakeFirst()
    roleIds[name] = r?.id ?? newId()
    if (!r) await db.insertInto('roles').values({ id: roleIds[name]!, name, domain_id: '', description: '',
      options: '{}', extra: '{}', created_at: now }).execute()
  }
  for (const [prior, implied] of [['admin', 'member'], ['member', 'reader']] as const) {
    await db.insertInto('implied_roles').values({ prior_role_id: roleIds[prior]!, implied_role_id: roleIds[implied]! })
      .onConflict((oc) => oc.doNothing()).execute()
  }
  let project = await db.selectFrom('projects').select('id').where('name', '=', 'admin').where('domain_id', '=', 'default').executeTakeFirst()
  if (!project) {
    project = { id: newId() }
    await db.insertInto('projects').values({ id: project.id, name: 'admin', domain_id: 'default', parent_id: null,
      description: 'Bootstrap project for initializing the cloud.', enabled: 1, is_domain: 0, extra: '{}', created_at: now }).execute()
  }
  let user = await db.selectFrom('users').select('id').where('name', '=', 'admin').where('domain_id', '=', 'default').executeTakeFirst()
  const created = !user
  if (!user) {
    user = { id: newId() }
    await db.insertInto('users').values({ id: user.id, name: 'admin', domain_id: 'default', enabled: 1,
      default_project_id: project.id, description: '', extra: '{}', options: '{}',
      password_hash: await hashPassword(o.adminPassword, c.config.scryptCost), password_created_at: now,
      password_expires_at: null, failed_auth_count: 0, failed_auth_at: null, last_active_at: null, created_at: now }).execute()
  }
  else if (o.resetPassword) {
    await db.updateTable('users').set({ password_hash: await hashPassword(o.adminPassword, c.config.scryptCost),
      password_created_at: now, failed_auth_count: 0 }).where('id', '=', user.id).execute()
    await c.revocations.revoke({ userId: user.id })
  }
  for (const [type, target] of [['UserProject', project.id], ['UserSystem', 'system']] as const) {
    await db.insertInto('assignments').values({ type, actor_id: user.id, target_id: target, role_id: roleIds.admin!, inherited: 0 })
      .onConflict((oc) => oc.doNothing()).execute()
  }
  const region = o.region ?? 'RegionOne'
  if (!(await db.selectFrom('regions').select('id').where('id', '=', region).executeTakeFirst())) {
    await db.insertInto('regions').values({ id: region, description: '', parent_region_id: null, extra: '{}' }).execute()
  }
  c.changed()
  return { adminUserId: user.id, adminProjectId: project.id, created }
}

/**
 * Makes the catalog hold exactly these URLs for a service type (public, internal and admin
 * interfaces), creating the service on first use. Services call it as they start.
 */
export async function registerEndpoints(c: IdentityCtx, o: { type: string; name: string; url: string; region?: string }): Promise<void> {
  const db = c.db
  const region = o.region ?? 'RegionOne'
  let svc = await db.selectFrom('services').select('id').where('type', '=', o.type).where('name', '=', o.name).executeTakeFirst()
  if (!svc) {
    svc = { id: newId() }
    await db.insertInto('services').values({ id: svc.id, type: o.type, name: o.name, description: '', enabled: 1, extra: '{}' }).execute()
  }
  for (const iface of ['public', 'internal', 'admin']) {
    const ep = await db.selectFrom('endpoints').select(['id', 'url']).where('service_id', '=', svc.id)
      .where('interface', '=', iface).where('region_id', '=', region).executeTakeFirst()
    if (!ep) {
      await db.insertInto('endpoints').values({ id: newId(), service_id: svc.id, interface: iface, url: o.url,
        region_id: region, enabled: 1, extra: '{}' }).execute()
    } else if (ep.url !== o.url) {
      await db.updateTable('endpoints').set({ url: o.url }).where('id', '=', ep.id).execute()
    }
  }
  c.changed()
}

/**
 * A service's own user (as OpenStack's `nova`, `glance` users): in the `service` project of the
 * Default domain with the given roles there, its password set on every call (the caller keeps
 * it, e.g. in its data directory). Idempotent. Returns the user's and the project's ids.
 */
export async function ensureServiceUser(c: IdentityCtx, o: { name: string; password: string; roles: string[] }): Promise<{ userId: string; projectId: string }> {
  const db = c.db
  const now = new Date(c.clock.now()).toISOString()
  let project = await db.selectFrom('projects').select('id').where('name', '=', 'service').where('domain_id', '=', 'default').executeTakeFirst()
  if (!project) {
    project = { id: newId() }
    await db.insertInto('projects').values({ id: project.id, name: 'service', domain_id: 'default', parent_id: null,
      description: 'Service users of the cloud.', enabled: 1, is_domain: 0, extra: '{}', created_at: now }).execute()
  }
  const hash = await hashPassword(o.password, c.config.scryptCost)
  let user = await db.selectFrom('users').select('id').where('name', '=', o.name).where('domain_id', '=', 'default').executeTakeFirst()
  if (!user) {
    user = { id: newId() }
    await db.insertInto('users').values({ id: user.id, name: o.name, domain_id: 'default', enabled: 1,
      default_project_id: project.id, description: 'Service user', extra: '{}', options: '{}',
      password_hash: hash, password_created_at: now, password_expires_at: null, failed_auth_count: 0,
      failed_auth_at: null, last_active_at: null, created_at: now }).execute()
  } else {
    await db.updateTable('users').set({ password_hash: hash, password_created_at: now, failed_auth_count: 0, enabled: 1 })
      .where('id', '=', user.id).execute()
  }
  for (const name of o.roles) {
    const role = await db.selectFrom('roles').select('id').where('name', '=', name).where('domain_id', '=', '').executeTakeFirst()
    if (!role) throw new Error(`role ${name} does not exist (bootstrapIdentity first)`)
    await db.insertInto('assignments').values({ type: 'UserProject', actor_id: user.id, target_id: project.id, role_id: role.id, inherited: 0 })
      .onConflict((oc) => oc.doNothing()).execute()
  }
  c.changed()
  return { userId: user.id, projectId: project.id }
}
