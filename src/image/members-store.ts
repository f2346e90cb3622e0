import type { Kysely } from 'kysely'
import { isUniqueViolation } from '../core/db/index.ts'
import type { ImageMemberRow, ImageSchema } from './schema.ts'

/** A project an image is shared with. */
export interface Member {
  imageId: string
  memberId: string
  status: 'pending' | 'accepted' | 'rejected'
  createdAt: string
  updatedAt: string
}

const toMember = (r: ImageMemberRow): Member => ({
  imageId: r.image_id, memberId: r.member, status: r.status as Member['status'],
  createdAt: r.created_at, updatedAt: r.updated_at,
})

/**
 * The members of an image the caller may see: all of them for the owner and the admin, only
 * its own membership for a member (Glance's image_member_find filters the same way).
 */
export async function listMembers(db: Kysely<ImageSchema>, imageId: string, seeAll: boolean, project?: string): Promise<Member[]> {
  let q = db.selectFrom('image_members').selectAll().where('image_id', '=', imageId)
  if (!seeAll) q = q.where('member', '=', project ?? '')
  return (await q.orderBy('created_at').orderBy('member').execute()).map(toMember)
}

/** One membership, or undefined. */
export async function findMember(db: Kysely<ImageSchema>, imageId: string, memberId: string): Promise<Member | undefined> {
  const r = await db.selectFrom('image_members').selectAll().where('image_id', '=', imageId)
    .where('member', '=', memberId).executeTakeFirst()
  return r ? toMember(r) : undefined
}

/** How many members an image has (for image_member_quota). */
export async function countMembers(db: Kysely<ImageSchema>, imageId: string): Promise<number> {
  const r = await db.selectFrom('image_members').select((eb) => eb.fn.countAll().as('n'))
    .where('image_id', '=', imageId).executeTakeFirst()
  return Number(r?.n ?? 0)
}

/** Adds a pending membership; returns false when the project is a member already. */
export async function addMember(db: Kysely<ImageSchema>, imageId: string, memberId: string, now: string): Promise<Member | false> {
  const row: ImageMemberRow = { image_id: imageId, member: memberId, status: 'pending', created_at: now, updated_at: now }
  try {
    await db.insertInto('image_members').values(row).execute()
  } catch (err) {
    if (isUniqueViolation(err)) return false
    throw err
  }
  return toMember(row)
}

/** Records a member's decision. */
export async function setMemberStatus(db: Kysely<ImageSchema>, imageId: string, memberId: string,
  status: Member['status'], now: string): Promise<void> {
  await db.updateTable('image_members').set({ status, updated_at: now })
    .where('image_id', '=', imageId).where('member', '=', memberId).execute()
}

/** Removes a membership. */
export async function removeMember(db: Kysely<ImageSchema>, imageId: string, memberId: string): Promise<void> {
  await db.deleteFrom('image_members').where('image_id', '=', imageId).where('member', '=', memberId).execute()
}
