import type { Kysely } from 'kysely'
import type { IdentitySchema } from './schema.ts'

export interface CatalogEntry {
  endpoints: { id: string; interface: string; region: string | null; region_id: string | null; url: string }[]
  id: string
  type: string
  name: string
}

/** The enabled services and endpoints, unsubstituted; cached by the caller per generation. */
export async function loadCatalog(db: Kysely<IdentitySchema>): Promise<CatalogEntry[]> {
  const services = await db.selectFrom('services').selectAll().where('enabled', '=', 1).orderBy('type').execute()
  const endpoints = await db.selectFrom('endpoints').selectAll().where('enabled', '=', 1).execute()
  return services.map((s) => ({
    endpoints: endpoints.filter((e) => e.service_id === s.id).map((e) => ({
      id: e.id, interface: e.interface, region: e.region_id, region_id: e.region_id, url: e.url,
    })),
    id: s.id,
    type: s.type,
    name: s.name,
  }))
}

/**
 * Substitutes `$(project_id)s`, `%(project_id)s` and the `tenant_id` spellings in endpoint URLs;
 * endpoints whose URL still needs a value the token lacks are left out, as Keystone does.
 */
export function scopeCatalog(catalog: CatalogEntry[], projectId: string | undefined): CatalogEntry[] {
  const re = /[$%]\((project_id|tenant_id|user_id)\)s/g
  return catalog.map((s) => ({
    ...s,
    endpoints: s.endpoints.flatMap((e) => {
      if (!re.test(e.url)) return [e]
      re.lastIndex = 0
      if (!projectId) return []
      return [{ ...e, url: e.url.replace(/[$%]\((project_id|tenant_id)\)s/g, projectId) }]
    }),
  }))
}
