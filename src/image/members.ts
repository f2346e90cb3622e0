import { CloudError } from '../core/errors.ts'
import { type ImageCtx, type Req, nowIso } from './context.ts'
import { type Member, addMember, countMembers, findMember, listMembers, removeMember, setMemberStatus } from './members-store.ts'
import { type Loaded, loadImage } from './service.ts'

// Image sharing (glance/api/v2/image_members.py): the owner adds projects as members of a
// `shared` image; each member accepts or rejects it. Accepted images appear in the member's
// image list; pending and rejected ones only when asked for (member_status=…).

const forbidden = (msg: string) => new CloudError('Forbidden', msg)
const imageNotFound = (id: string) => new CloudError('NotFound', `Image ${id} not found.`)

/** Only shared images have members (403 otherwise). */
function checkShared(l: Loaded): void {
  if (l.image.visibility !== 'shared') throw forbidden('Only shared images have members.')
}

/** A membership the caller may see: all of them for the owner and admin, only its own for a member. */
async function lookupMember(c: ImageCtx, r: Req, l: Loaded, memberId: string): Promise<Member> {
  const notFound = () => new CloudError('NotFound', `${memberId} not found in the member list of the image ${l.image.id}.`)
  if (!r.policy.check('get_member', targetOf(r, l))) throw forbidden(`You are not authorized to lookup the members of the image ${l.image.id}.`)
  const seeAll = r.caller.admin || l.image.owner === r.caller.project
  if (!seeAll && memberId !== r.caller.project) throw notFound()
  const m = await findMember(c.db, l.image.id, memberId)
  if (!m) throw notFound()
  return m
}

function targetOf(r: Req, l: Loaded): Record<string, unknown> {
  return { project_id: l.image.owner, owner: l.image.owner, visibility: l.image.visibility,
    member_id: l.isMember ? r.auth.projectId : undefined }
}

/** POST /v2/images/{id}/members {"member": project}. */
export async function createMember(c: ImageCtx, r: Req, id: string, body: unknown): Promise<Member> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new CloudError('BadRequest', 'Expected a member in the form: {"member": "image_id"}')
  }
  const b = body as Record<string, unknown>
  if (!('member' in b)) throw new CloudError('BadRequest', 'Member to be added not specified')
  if (!b.member) throw new CloudError('BadRequest', "Member can't be empty")
  if (typeof b.member !== 'string' || b.member.length > 255) {
    throw new CloudError('BadRequest', 'Expected a member in the form: {"member": "image_id"}')
  }
  const memberId = b.member
  const l = await loadImage(c, r, id, imageNotFound)
  const denied = forbidden(`Not allowed to create members for image ${id}.`)
  if (l.image.visibility !== 'shared') throw denied
  if (!r.caller.admin && (l.image.owner === null || l.image.owner !== r.caller.project)) throw denied
  if (!r.policy.check('add_member', targetOf(r, l))) throw denied
  if ((await countMembers(c.db, id)) >= c.config.memberQuota) {
    throw new CloudError('PayloadTooLarge', `Image member limit exceeded for image ${id}: The limit has been exceeded on the number of allowed image members for this image. Attempted: ${c.config.memberQuota + 1}, Maximum: ${c.config.memberQuota}`)
  }
  const m = await addMember(c.db, id, memberId, nowIso(c))
  if (!m) throw new CloudError('Conflict', `Member ${memberId} is duplicated for image ${id}`)
  return m
}

/** PUT /v2/images/{id}/members/{member} {"status": …}: only the member itself (or admin) decides. */
export async function updateMember(c: ImageCtx, r: Req, id: string, memberId: string, body: unknown): Promise<Member> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new CloudError('BadRequest', 'Expected a status in the form: {"status": "status"}')
  }
  const b = body as Record<string, unknown>
  if (!('status' in b)) throw new CloudError('BadRequest', 'Status not specified')
  const l = await loadImage(c, r, id, imageNotFound)
  const denied = forbidden(`Not allowed to update members for image ${id}.`)
  if (l.image.visibility !== 'shared') throw denied
  if (!r.caller.admin && r.caller.project === l.image.owner) throw denied
  const m = await lookupMember(c, r, l, memberId).catch((e: CloudError) => { throw e.status === 403 ? denied : e })
  if (!r.policy.check('modify_member', targetOf(r, l))) throw denied
  const status = b.status
  if (status !== 'pending' && status !== 'accepted' && status !== 'rejected') {
    throw new CloudError('BadRequest', 'Incorrect request: Status must be "pending", "accepted" or "rejected".')
  }
  const now = nowIso(c)
  await setMemberStatus(c.db, id, memberId, status, now)
  return { ...m, status, updatedAt: now }
}

/** GET /v2/images/{id}/members. */
export async function membersOf(c: ImageCtx, r: Req, id: string): Promise<Member[]> {
  const l = await loadImage(c, r, id, imageNotFound)
  try {
    checkShared(l)
    if (!r.policy.check('get_members', targetOf(r, l))) throw forbidden('You are not authorized to complete get_members action.')
  } catch (e) {
    throw forbidden(`Not allowed to list members for image ${id}: ${(e as Error).message}`)
  }
  const seeAll = r.caller.admin || l.image.owner === r.caller.project
  return listMembers(c.db, id, seeAll, r.caller.project)
}

/** GET /v2/images/{id}/members/{member}: anything the caller may not see is a 404. */
export async function memberOf(c: ImageCtx, r: Req, id: string, memberId: string): Promise<Member> {
  const l = await loadImage(c, r, id, imageNotFound)
  try {
    checkShared(l)
    return await lookupMember(c, r, l, memberId)
  } catch (e) {
    if ((e as CloudError).status === 403) throw new CloudError('NotFound', (e as Error).message)
    throw e
  }
}

/** DELETE /v2/images/{id}/members/{member}: the owner (or admin) removes a member. */
export async function deleteMember(c: ImageCtx, r: Req, id: string, memberId: string): Promise<void> {
  const l = await loadImage(c, r, id, imageNotFound)
  const denied = forbidden(`Not allowed to delete members for image ${id}.`)
  if (l.image.visibility !== 'shared') throw denied
  if (!r.caller.admin && r.caller.project !== l.image.owner) throw denied
  await lookupMember(c, r, l, memberId).catch((e: CloudError) => { throw e.status === 403 ? denied : e })
  if (!r.policy.check('delete_member', targetOf(r, l))) throw denied
  await removeMember(c.db, id, memberId)
}
