// The image service (Glance v2, catalog type `image`): images and their data, sharing,
// import, metadata definitions. The only file other folders import (besides client.ts).
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import type { TokenValidator } from '../core/auth.ts'
import { migrate } from '../core/db/index.ts'
import { type Api, createApi } from '../core/http/app.ts'
import type { Core } from '../core/index.ts'
import { type ImageConfig, defaultImageConfig } from './config.ts'
import type { ImageCtx } from './context.ts'
import { ImageSchemas } from './image-schema.ts'
import { imageRules } from './policy.ts'
import { recoverInterrupted } from './recovery.ts'
import { type ImageSchema, imageMigrations } from './schema.ts'
import { FileImageStore } from './store/file-store.ts'
import type { ImageStore } from './store/image-store.ts'
import { bodyParsers } from './api/common.ts'
import { infoRoutes, schemaRoutes, versionRoutes } from './api/discovery.ts'
import { imageDataRoutes } from './api/image-data.ts'
import { imageRoutes } from './api/images.ts'
import { memberRoutes } from './api/members.ts'
import { tagAndActionRoutes } from './api/tags-actions.ts'
import { taskRoutes } from './api/tasks.ts'
import { namespaceChildRoutes } from './metadefs/api-children.ts'
import { namespaceRoutes } from './metadefs/api-namespaces.ts'

/** Configuration, stores and their types, for the composition root and other services' tests. */
export type { ImageConfig } from './config.ts'
export type { ImageStore, StoredData, ByteRange } from './store/image-store.ts'
export { FileImageStore } from './store/file-store.ts'
export { SwiftImageStore, type SwiftImageStoreOptions } from './store/swift-store.ts'

/** Options of the image service. */
export interface ImageOptions {
  /** Validates X-Auth-Token (identity's validator, in-process or remote). */
  auth: TokenValidator
  /** DATA_DIR/images: image data (file store) and the import staging area (.staging). */
  dataDir: string
  /** Where image data lives; default a FileImageStore on `dataDir`. */
  store?: ImageStore
  config?: Partial<ImageConfig>
  /** The database schema (default `image`); tests use a fresh one per run. */
  schema?: string
}

/** The running image service. */
export interface Image {
  /** The Glance v2 API (port 9292 in all-in-one). */
  api: Api
  ctx: ImageCtx
  /** Waits for running imports, then stops the API. */
  close(): Promise<void>
}

/** Builds the image service on the core: migrations, default policies, stores, routes. */
export async function createImage(core: Core, o: ImageOptions): Promise<Image> {
  const schema = o.schema ?? 'image'
  await migrate(core.db, schema, imageMigrations)
  core.policy.register(imageRules)
  const config = { ...defaultImageConfig, ...o.config }
  const ctx: ImageCtx = {
    db: core.db.schema<ImageSchema>(schema) as Kysely<ImageSchema>,
    engine: core.db.engine, clock: core.clock, log: core.log.child({ svc: 'image' }), policy: core.policy,
    config, schemas: new ImageSchemas(config),
    store: o.store ?? new FileImageStore(o.dataDir),
    staging: new FileImageStore(join(o.dataDir, '.staging')),
    jobs: new Set(),
  }
  if (core.db.engine === 'sqlite') await recoverInterrupted(ctx)
  // Image data streams in: no body limit applies to it (image_size_cap is enforced while streaming).
  const api = createApi({ name: 'image', dialect: 'glance', log: core.log, policy: core.policy, auth: () => o.auth })
  bodyParsers(api)
  versionRoutes(api)
  schemaRoutes(api, ctx)
  infoRoutes(api, ctx)
  imageRoutes(api, ctx)
  imageDataRoutes(api, ctx)
  memberRoutes(api, ctx)
  tagAndActionRoutes(api, ctx)
  taskRoutes(api, ctx)
  namespaceRoutes(api, ctx)
  namespaceChildRoutes(api, ctx)
  return {
    api, ctx,
    async close() {
      await api.close()
      await Promise.allSettled([...ctx.jobs])
    },
  }
}
