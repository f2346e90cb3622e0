import { randomInt } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { atLeast } from '../microversion.ts'
import { BOOLEAN_SCHEMA } from './common.ts'

// Request bodies of the server actions (nova/api/openstack/compute/schemas/*.py).

const NAME = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?!\\s)[^\\x00-\\x1F\\x7F]*(?<!\\s)$' }
/** Nova's parameter_types.metadata. */
export const METADATA = {
  type: 'object', additionalProperties: false,
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
}
const action = (key: string, inner: object, required = true) => ({
  type: 'object', required: required ? [key] : [], properties: { [key]: inner },
})

/** reboot {type}. */
export const REBOOT = action('reboot', {
  type: 'object', required: ['type'], additionalProperties: false,
  properties: { type: { enum: ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft'] } },
})
/** resize {flavorRef}. */
export const RESIZE = action('resize', {
  type: 'object', required: ['flavorRef'], additionalProperties: false,
  properties: { flavorRef: { type: ['string', 'integer'], minLength: 1 }, 'OS-DCF:diskConfig': { enum: ['AUTO', 'MANUAL'] } },
})
/** createImage {name, metadata}. */
export const CREATE_IMAGE = action('createImage', {
  type: 'object', required: ['name'], additionalProperties: false, properties: { name: NAME, metadata: METADATA },
})
/** createBackup {name, backup_type, rotation, metadata} (schemas/create_backup.py). */
export const CREATE_BACKUP = action('createBackup', {
  type: 'object', required: ['name', 'backup_type', 'rotation'], additionalProperties: false,
  properties: {
    name: NAME, backup_type: { type: 'string' }, metadata: METADATA,
    rotation: { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0, minLength: 1 },
  },
})
/** lock (2.73: locked_reason). */
export const LOCK = action('lock', {
  type: ['object', 'null'], additionalProperties: false,
  properties: { locked_reason: { type: 'string', minLength: 1, maxLength: 255 } },
})
/** os-resetState {state}. */
export const RESET_STATE = action('os-resetState', {
  type: 'object', required: ['state'], additionalProperties: false, properties: { state: { enum: ['active', 'error'] } },
})
/** os-getConsoleOutput {length}. */
export const CONSOLE_OUTPUT = action('os-getConsoleOutput', {
  type: 'object', additionalProperties: false,
  properties: { length: { type: ['integer', 'string', 'null'], pattern: '^-?[0-9]+$', minimum: -1 } },
})
/** remote-consoles (2.6) {remote_console: {protocol, type}}. */
export const REMOTE_CONSOLE = action('remote_console', {
  type: 'object', required: ['protocol', 'type'], additionalProperties: false,
  properties: {
    protocol: { enum: ['vnc', 'spice', 'rdp', 'serial', 'mks'] },
    type: { enum: ['novnc', 'xvpvnc', 'rdp-html5', 'spice-html5', 'serial', 'webmks'] },
  },
})

const rebuilds = new Map<string, object>()
/** rebuild, per microversion: 2.19 description, 2.54 key_name, 2.57 user_data (personality gone), 2.63 certificates. */
export function rebuildSchema(req: FastifyRequest): object {
  const k = ['2.63', '2.57', '2.54', '2.19'].find((v) => atLeast(req, v)) ?? '2.1'
  let s = rebuilds.get(k)
  if (s) return s
  const props: Record<string, unknown> = {
    name: NAME, imageRef: { type: 'string', minLength: 1 }, adminPass: { type: 'string' }, metadata: METADATA,
    preserve_ephemeral: BOOLEAN_SCHEMA, 'OS-DCF:diskConfig': { enum: ['AUTO', 'MANUAL'] },
    accessIPv4: { type: 'string', anyOf: [{ format: 'ipv4' }, { maxLength: 0 }] },
    accessIPv6: { type: 'string' },
  }
  if (!atLeast(req, '2.57')) {
    props.personality = { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, contents: { type: 'string' } } } }
  }
  if (atLeast(req, '2.19')) props.description = { type: ['string', 'null'], maxLength: 255 }
  if (atLeast(req, '2.54')) props.key_name = { type: ['string', 'null'], minLength: 1, maxLength: 255 }
  if (atLeast(req, '2.57')) props.user_data = { type: ['string', 'null'], maxLength: 65535 }
  if (atLeast(req, '2.63')) props.trusted_image_certificates = { type: ['array', 'null'], maxItems: 50, items: { type: 'string' } }
  s = action('rebuild', { type: 'object', required: ['imageRef'], additionalProperties: false, properties: props })
  rebuilds.set(k, s)
  return s
}

/** Nova's generate_password: 12 characters without look-alikes. */
export function adminPass(): string {
  const chars = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'
  return Array.from({ length: 12 }, () => chars[randomInt(chars.length)]).join('')
}
