import type { ImageCtx } from './context.ts'
import { nowIso } from './context.ts'
import { STAGED_AT } from './service.ts'

/**
 * Puts images and tasks that a previous run left half-way back into a state their owners can
 * act on: an upload that never finished (`saving`) is `queued` again (stores commit data
 * atomically, so nothing partial was kept); an import that never finished (`importing`) is
 * `uploading` when its staged data is still there, else `queued`; its task is a failure.
 * Only for a single process on its own database (SQLite): with several controllers on
 * PostgreSQL, another controller may be in the middle of exactly these operations.
 */
export async function recoverInterrupted(c: ImageCtx): Promise<number> {
  const now = nowIso(c)
  const stuck = await c.db.selectFrom('images').select(['id', 'status']).where('deleted_at', 'is', null)
    .where('status', 'in', ['saving', 'importing']).execute()
  for (const i of stuck) {
    let status = 'queued'
    if (i.status === 'importing') {
      const staged = await c.db.selectFrom('image_properties').select('value').where('image_id', '=', i.id)
        .where('name', '=', STAGED_AT).executeTakeFirst()
      if (staged) status = 'uploading'
    }
    await c.db.updateTable('images').set({ status, updated_at: now, ...(status === 'queued' ? { size: null } : {}) })
      .where('id', '=', i.id).where('status', '=', i.status).execute()
    await c.db.deleteFrom('image_properties').where('image_id', '=', i.id).where('name', '=', 'os_glance_importing_to_stores').execute()
  }
  await c.db.updateTable('tasks').set({ status: 'failure', message: 'The service restarted while this task was running.',
    updated_at: now }).where('status', 'in', ['pending', 'processing']).execute()
  if (stuck.length) c.log.warn({ images: stuck.map((i) => i.id) }, 'uploads and imports interrupted by a restart were reset')
  return stuck.length
}
