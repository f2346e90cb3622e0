import type { AuthContext } from '../core/auth.ts'
import { CloudError } from '../core/errors.ts'
import type { PolicyEngine, Rules } from '../core/policy.ts'
import { type Image, imageNotFound } from './model.ts'

// Glance's default policies (glance/policies/{base,image,metadef,tasks}.py), secure-RBAC
// defaults. One difference in form, not in effect: Glance's visibility checks are oslo.policy
// generic checks with a literal on the left ("'public':%(visibility)s"), which the core engine
// does not evaluate. The target therefore carries `open_to_project`, the caller's project when
// the visibility check would pass, and the rules say `project_id:%(open_to_project)s` where
// Glance says "'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s".
// Which images a project can see at all is decided in SQL (images-store visibleTo), as in
// Glance's db layer; the rules decide what it may do with them.

const ADMIN = 'rule:context_is_admin'
const PROJECT_MEMBER = 'role:member and project_id:%(project_id)s'
const PROJECT_READER = 'role:reader and project_id:%(project_id)s'
const IMAGE_MEMBER = 'project_id:%(member_id)s'
const OPEN = 'rule:image_open_to_project'
const ADMIN_OR_PROJECT_MEMBER = `${ADMIN} or (${PROJECT_MEMBER})`
const ADMIN_OR_PROJECT_READER = `${ADMIN} or (${PROJECT_READER})`
const METADEF_ADMIN = 'rule:metadef_admin'
const GET_NAMESPACE = `${ADMIN} or (role:reader and (project_id:%(project_id)s or ${OPEN}))`

/** The image service's default rules; operators may override any of them. */
export const imageRules: Rules = {
  context_is_admin: 'role:admin',
  default: '',
  service_api: 'role:service or role:admin',
  image_open_to_project: 'project_id:%(open_to_project)s',

  add_image: `${ADMIN} or (${PROJECT_MEMBER} and project_id:%(owner)s)`,
  delete_image: ADMIN_OR_PROJECT_MEMBER,
  get_image: `${ADMIN} or (role:reader and (project_id:%(project_id)s or ${IMAGE_MEMBER} or ${OPEN}))`,
  get_images: ADMIN_OR_PROJECT_READER,
  modify_image: ADMIN_OR_PROJECT_MEMBER,
  publicize_image: ADMIN,
  communitize_image: ADMIN_OR_PROJECT_MEMBER,
  download_image: `${ADMIN} or (role:member and (project_id:%(project_id)s or ${IMAGE_MEMBER} or ${OPEN}))`,
  upload_image: ADMIN_OR_PROJECT_MEMBER,
  deactivate: ADMIN_OR_PROJECT_MEMBER,
  reactivate: ADMIN_OR_PROJECT_MEMBER,
  copy_image: ADMIN,
  delete_image_location: ADMIN,
  get_image_location: ADMIN_OR_PROJECT_READER,
  set_image_location: ADMIN_OR_PROJECT_MEMBER,
  add_image_location: `rule:service_api or (${PROJECT_MEMBER} and project_id:%(owner)s)`,
  fetch_image_location: 'rule:service_api',
  add_member: ADMIN_OR_PROJECT_MEMBER,
  delete_member: ADMIN_OR_PROJECT_MEMBER,
  get_member: `${ADMIN} or (role:reader and (project_id:%(project_id)s or ${IMAGE_MEMBER}))`,
  get_members: `${ADMIN} or (role:reader and (project_id:%(project_id)s or ${IMAGE_MEMBER}))`,
  modify_member: `${ADMIN} or (role:member and ${IMAGE_MEMBER})`,
  stores_info_detail: 'role:admin',

  tasks_api_access: 'role:admin',
  get_task: 'rule:default',
  get_tasks: 'rule:default',
  add_task: 'rule:default',
  modify_task: 'rule:default',

  metadef_default: '',
  metadef_admin: ADMIN,
  get_metadef_namespace: GET_NAMESPACE,
  get_metadef_namespaces: ADMIN_OR_PROJECT_READER,
  modify_metadef_namespace: METADEF_ADMIN,
  add_metadef_namespace: METADEF_ADMIN,
  delete_metadef_namespace: METADEF_ADMIN,
  get_metadef_object: GET_NAMESPACE,
  get_metadef_objects: GET_NAMESPACE,
  modify_metadef_object: METADEF_ADMIN,
  add_metadef_object: METADEF_ADMIN,
  delete_metadef_object: METADEF_ADMIN,
  list_metadef_resource_types: GET_NAMESPACE,
  get_metadef_resource_type: GET_NAMESPACE,
  add_metadef_resource_type_association: METADEF_ADMIN,
  remove_metadef_resource_type_association: METADEF_ADMIN,
  get_metadef_property: GET_NAMESPACE,
  get_metadef_properties: GET_NAMESPACE,
  modify_metadef_property: METADEF_ADMIN,
  add_metadef_property: METADEF_ADMIN,
  remove_metadef_property: METADEF_ADMIN,
  get_metadef_tag: GET_NAMESPACE,
  get_metadef_tags: GET_NAMESPACE,
  modify_metadef_tag: METADEF_ADMIN,
  add_metadef_tag: METADEF_ADMIN,
  add_metadef_tags: METADEF_ADMIN,
  delete_metadef_tag: METADEF_ADMIN,
  delete_metadef_tags: METADEF_ADMIN,
}

/** Policy checks of one request: the engine, the caller, and Glance's image semantics. */
export class ImagePolicy {
  constructor(private readonly engine: PolicyEngine, readonly ctx: AuthContext) {}

  /** Glance's context.is_admin: the caller passes `context_is_admin`. */
  get isAdmin(): boolean { return this.engine.check('context_is_admin', this.ctx, {}) }

  check(rule: string, target: Record<string, unknown>): boolean { return this.engine.check(rule, this.ctx, target) }

  /** Throws Glance's 403 for a failed rule. */
  enforce(rule: string, target: Record<string, unknown>, message?: string): void {
    if (!this.check(rule, target)) {
      throw new CloudError('Forbidden', message ?? `You are not authorized to complete ${rule} action.`)
    }
  }

  /**
   * Checks a rule on an image as Glance's ImageAPIPolicy does: a caller who may not even see
   * the image gets 404 (its existence is not revealed); one who may see it gets 403.
   */
  enforceImage(rule: string, image: Image, isMember: boolean, message?: string): void {
    const target = imageTarget(image, this.ctx, isMember)
    if (this.check(rule, target)) return
    if (rule === 'get_image' || !this.check('get_image', target)) throw imageNotFound(image.id)
    throw new CloudError('Forbidden', message ?? `You are not authorized to complete ${rule} action.`)
  }
}

/**
 * The attributes image rules are checked against (glance/api/policy.py ImageTarget):
 * project_id and owner are the image's owner; member_id is the caller's project when that
 * project is a member of the image; open_to_project as explained above.
 */
export function imageTarget(image: Image, ctx: AuthContext, isMember: boolean): Record<string, unknown> {
  const open = image.visibility === 'public' || image.visibility === 'community' || image.visibility === 'shared'
  return {
    ...image.properties,
    id: image.id, image_id: image.id, project_id: image.owner, owner: image.owner, visibility: image.visibility,
    name: image.name, status: image.status, protected: image.protected,
    member_id: isMember ? ctx.projectId : undefined,
    open_to_project: open ? ctx.projectId : undefined,
  }
}
