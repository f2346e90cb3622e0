import { Ajv, type ValidateFunction } from 'ajv'
import { CloudError } from '../core/errors.ts'
import type { ImageConfig } from './config.ts'

// The JSON schemas Glance publishes at /v2/schemas/* and validates image bodies against
// (glance/api/v2/images.py get_base_properties, etc/schema-image.json, image_members.py,
// tasks.py). The same documents serve both purposes, so what clients read is what is enforced.

const UUID_PATTERN = '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'

/** Glance's base image properties, with the formats this cloud accepts. */
function baseProperties(cfg: ImageConfig): Record<string, unknown> {
  const nullableString = (description: string, maxLength?: number) =>
    ({ type: ['null', 'string'], description, ...(maxLength ? { maxLength } : {}) })
  const readOnly = (type: unknown, description: string, extra: object = {}) => ({ type, readOnly: true, description, ...extra })
  return {
    id: { type: 'string', description: 'An identifier for the image', pattern: UUID_PATTERN },
    name: nullableString('Descriptive name for the image', 255),
    status: readOnly('string', 'Status of the image', { enum: ['queued', 'saving', 'active', 'killed', 'deleted',
      'uploading', 'importing', 'pending_delete', 'deactivated'] }),
    visibility: { type: 'string', description: 'Scope of image accessibility', enum: ['community', 'public', 'private', 'shared'] },
    protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
    os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
    checksum: readOnly(['null', 'string'], 'md5 hash of image contents.', { maxLength: 32 }),
    os_hash_algo: readOnly(['null', 'string'], 'Algorithm to calculate the os_hash_value', { maxLength: 64 }),
    os_hash_value: readOnly(['null', 'string'], 'Hexdigest of the image contents using the algorithm specified by the os_hash_algo', { maxLength: 128 }),
    owner: nullableString('Owner of the image', 255),
    size: readOnly(['null', 'integer'], 'Size of image file in bytes'),
    virtual_size: readOnly(['null', 'integer'], 'Virtual size of image in bytes'),
    container_format: { type: ['null', 'string'], description: 'Format of the container', enum: [null, ...cfg.containerFormats] },
    disk_format: { type: ['null', 'string'], description: 'Format of the disk', enum: [null, ...cfg.diskFormats] },
    created_at: readOnly('string', 'Date and time of image registration'),
    updated_at: readOnly('string', 'Date and time of the last image modification'),
    tags: { type: 'array', description: 'List of strings related to the image', items: { type: 'string', maxLength: 255 } },
    direct_url: readOnly('string', 'URL to access the image file kept in external store'),
    min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
    min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
    self: readOnly('string', 'An image self url'),
    file: readOnly('string', 'An image file url'),
    stores: readOnly('string', 'Store in which image data resides.  Only present when the operator has enabled multiple stores.  May be a comma-separated list of store identifiers.'),
    schema: readOnly('string', 'An image schema url'),
    locations: {
      type: 'array', description: 'A set of URLs to access the image file kept in external store',
      items: { type: 'object', required: ['url', 'metadata'], properties: {
        url: { type: 'string', maxLength: 255 }, metadata: { type: 'object' },
        validation_data: { type: 'object', writeOnly: true, additionalProperties: false, required: ['os_hash_algo', 'os_hash_value'],
          properties: { checksum: { type: 'string', minLength: 32, maxLength: 32 }, os_hash_algo: { type: 'string', maxLength: 64 },
            os_hash_value: { type: 'string', maxLength: 128 } } },
      } },
    },
  }
}

/** The custom properties of Glance's shipped etc/schema-image.json. */
const CUSTOM_PROPERTIES: Record<string, unknown> = {
  kernel_id: { type: ['null', 'string'], pattern: UUID_PATTERN, is_base: false,
    description: 'ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.' },
  ramdisk_id: { type: ['null', 'string'], pattern: UUID_PATTERN, is_base: false,
    description: 'ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.' },
  instance_uuid: { type: 'string', is_base: false,
    description: 'Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)' },
  architecture: { type: 'string', is_base: false,
    description: 'Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html' },
  os_distro: { type: 'string', is_base: false,
    description: 'Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html' },
  os_version: { type: 'string', is_base: false, description: 'Operating system version as specified by the distributor.' },
  description: { type: 'string', is_base: false, description: 'A human-readable string describing this image.' },
  cinder_encryption_key_id: { type: 'string', is_base: false,
    description: 'Identifier in the OpenStack Key Management Service for the encryption key for the Block Storage Service to use when mounting a volume created from this image' },
  cinder_encryption_key_deletion_policy: { type: 'string', is_base: false, enum: ['on_image_deletion', 'do_not_delete'],
    description: "States the condition under which the Image Service will delete the object associated with the 'cinder_encryption_key_id' image property.  If this property is missing, the Image Service will take no action" },
}

/** The schemas of one image service (they depend on its configured formats). */
export class ImageSchemas {
  readonly image: Record<string, unknown>
  readonly images: Record<string, unknown>
  private readonly validateImage: ValidateFunction

  constructor(cfg: ImageConfig) {
    // Glance's PermissiveSchema: unknown keys are allowed as long as their values are strings.
    this.image = {
      name: 'image', properties: { ...baseProperties(cfg), ...CUSTOM_PROPERTIES },
      additionalProperties: { type: 'string' },
      links: [{ rel: 'self', href: '{self}' }, { rel: 'enclosure', href: '{file}' }, { rel: 'describedby', href: '{schema}' }],
    }
    this.images = collection('images', this.image, true)
    this.validateImage = new Ajv({ strict: false, allErrors: false }).compile(this.image)
  }

  /** Throws Glance's 400 when `body` (a whole or partial image) breaks the image schema. */
  check(body: Record<string, unknown>): void {
    if (this.validateImage(body)) return
    const e = this.validateImage.errors?.[0]
    const where = e?.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'image'
    throw new CloudError('BadRequest', `Provided object does not match schema 'image': ${where} ${e?.message ?? 'is invalid'}`)
  }
}

/** Glance's CollectionSchema (raw) or its minimal form (members, tasks). */
export function collection(name: string, item: Record<string, unknown>, raw: boolean): Record<string, unknown> {
  if (!raw) {
    return { name, properties: { [name]: { type: 'array', items: item }, schema: { type: 'string' } },
      links: [{ rel: 'describedby', href: '{schema}' }] }
  }
  return {
    name,
    properties: { [name]: { type: 'array', items: item }, first: { type: 'string' }, next: { type: 'string' }, schema: { type: 'string' } },
    links: [{ rel: 'first', href: '{first}' }, { rel: 'next', href: '{next}' }, { rel: 'describedby', href: '{schema}' }],
  }
}

/** /v2/schemas/member (Glance's minimal form). */
export const MEMBER_SCHEMA = {
  name: 'member',
  properties: {
    member_id: { type: 'string', description: 'An identifier for the image member (tenantId)' },
    image_id: { type: 'string', description: 'An identifier for the image', pattern: UUID_PATTERN },
    created_at: { type: 'string', description: 'Date and time of image member creation' },
    updated_at: { type: 'string', description: 'Date and time of last modification of image member' },
    status: { type: 'string', description: 'The status of this image member', enum: ['pending', 'accepted', 'rejected'] },
    schema: { readOnly: true, type: 'string' },
  },
}

const TASK_PROPERTIES: Record<string, unknown> = {
  id: { description: 'An identifier for the task', pattern: UUID_PATTERN, type: 'string' },
  type: { description: 'The type of task represented by this content', enum: ['import', 'api_image_import', 'location_import'], type: 'string' },
  status: { description: 'The current status of this task', enum: ['pending', 'processing', 'success', 'failure'], type: 'string' },
  input: { description: 'The parameters required by task, JSON blob', type: ['null', 'object'] },
  result: { description: 'The result of current task, JSON blob', type: ['null', 'object'] },
  owner: { description: 'An identifier for the owner of this task', type: 'string' },
  message: { description: 'Human-readable informative message only included when appropriate (usually on failure)', type: 'string' },
  image_id: { description: 'Image associated with the task', type: 'string' },
  request_id: { description: 'Human-readable informative request-id', type: 'string' },
  user_id: { description: 'User associated with the task', type: 'string' },
  expires_at: { description: 'Datetime when this resource would be subject to removal', type: ['null', 'string'] },
  created_at: { description: 'Datetime when this resource was created', type: 'string' },
  updated_at: { description: 'Datetime when this resource was updated', type: 'string' },
  self: { readOnly: true, type: 'string' },
  schema: { readOnly: true, type: 'string' },
}

/** /v2/schemas/task. */
export const TASK_SCHEMA = { name: 'task', properties: TASK_PROPERTIES }
/** /v2/schemas/tasks: tasks listed without input, result and message. */
export const TASKS_SCHEMA = collection('tasks', {
  name: 'task',
  properties: Object.fromEntries(Object.entries(TASK_PROPERTIES).filter(([k]) => !['input', 'result', 'message'].includes(k))),
}, false)
