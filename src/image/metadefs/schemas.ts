import { Ajv, type ValidateFunction } from 'ajv'
import { CloudError } from '../../core/errors.ts'
import { collection } from '../image-schema.ts'

// The metadata-definition schemas of glance/api/v2/metadef_*.py: served at
// /v2/schemas/metadefs/* and used to validate request bodies (strict: unknown keys refused).

const TYPES = ['array', 'boolean', 'integer', 'number', 'object', 'string', null]
const timestamp = (what: string) => ({ type: 'string', readOnly: true, description: `Date and time of ${what}`, format: 'date-time' })

/** The property-definition body (Glance's definitions.property.additionalProperties.properties). */
const PROPERTY_FIELDS: Record<string, unknown> = {
  name: { type: 'string', maxLength: 80 },
  title: { type: 'string' },
  description: { type: 'string' },
  operators: { type: 'array', items: { type: 'string' } },
  type: { type: 'string', enum: TYPES },
  required: { $ref: '#/definitions/stringArray' },
  minimum: { type: 'number' },
  maximum: { type: 'number' },
  maxLength: { $ref: '#/definitions/positiveInteger' },
  minLength: { $ref: '#/definitions/positiveIntegerDefault0' },
  pattern: { type: 'string', format: 'regex' },
  enum: { type: 'array' },
  readonly: { type: 'boolean' },
  default: {},
  items: { type: 'object', properties: { type: { type: 'string', enum: TYPES }, enum: { type: 'array' } } },
  maxItems: { $ref: '#/definitions/positiveInteger' },
  minItems: { $ref: '#/definitions/positiveIntegerDefault0' },
  uniqueItems: { type: 'boolean', default: false },
  additionalItems: { type: 'boolean' },
}

const DEFINITIONS = {
  positiveInteger: { type: 'integer', minimum: 0 },
  positiveIntegerDefault0: { allOf: [{ $ref: '#/definitions/positiveInteger' }, { default: 0 }] },
  stringArray: { type: 'array', items: { type: 'string' }, uniqueItems: true },
  property: { type: 'object', additionalProperties: { type: 'object', required: ['title', 'type'], properties: PROPERTY_FIELDS } },
}

const strict = (name: string, properties: Record<string, unknown>, required: string[] | undefined, definitions?: object) => ({
  name, properties, additionalProperties: false, ...(definitions ? { definitions } : {}), ...(required ? { required } : {}),
})

const NAMESPACE = strict('namespace', {
  namespace: { type: 'string', description: 'The unique namespace text.', maxLength: 80 },
  display_name: { type: 'string', description: 'The user friendly name for the namespace. Used by UI if available.', maxLength: 80 },
  description: { type: 'string', description: 'Provides a user friendly description of the namespace.', maxLength: 500 },
  visibility: { type: 'string', description: 'Scope of namespace accessibility.', enum: ['public', 'private'] },
  protected: { type: 'boolean', description: 'If true, namespace will not be deletable.' },
  owner: { type: 'string', description: 'Owner of the namespace.', maxLength: 255 },
  created_at: timestamp('namespace creation'),
  updated_at: timestamp('the last namespace modification'),
  schema: { readOnly: true, type: 'string' },
  self: { readOnly: true, type: 'string' },
  resource_type_associations: { type: 'array', items: { type: 'object', properties: {
    name: { type: 'string' }, prefix: { type: 'string' }, properties_target: { type: 'string' } } } },
  properties: { $ref: '#/definitions/property' },
  objects: { type: 'array', items: { type: 'object', properties: {
    name: { type: 'string' }, description: { type: 'string' }, required: { $ref: '#/definitions/stringArray' },
    properties: { $ref: '#/definitions/property' } } } },
  tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
}, ['namespace'], DEFINITIONS)

const OBJECT = strict('object', {
  name: { type: 'string', maxLength: 80 },
  description: { type: 'string' },
  required: { $ref: '#/definitions/stringArray' },
  properties: { $ref: '#/definitions/property' },
  schema: { readOnly: true, type: 'string' },
  self: { readOnly: true, type: 'string' },
  created_at: timestamp('object creation'),
  updated_at: timestamp('the last object modification'),
}, ['name'], DEFINITIONS)

const PROPERTY = strict('property', PROPERTY_FIELDS, ['type', 'title', 'name'], DEFINITIONS)
const PROPERTY_NO_NAME = strict('property', PROPERTY_FIELDS, ['type', 'title'], DEFINITIONS)

const TAG = strict('tag', {
  name: { type: 'string', maxLength: 80 },
  created_at: timestamp('tag creation'),
  updated_at: timestamp('the last tag modification'),
}, ['name'], DEFINITIONS)

const TAG_LIST = strict('tags', {
  tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false } },
}, undefined, DEFINITIONS)

const RESOURCE_TYPE = strict('resource_type_association', {
  name: { type: 'string', maxLength: 80, description: 'Resource type names should be aligned with Heat resource types whenever possible: https://docs.openstack.org/heat/latest/template_guide/openstack.html' },
  prefix: { type: 'string', maxLength: 80, description: 'Specifies the prefix to use for the given resource type. Any properties in the namespace should be prefixed with this prefix when being applied to the specified resource type. Must include prefix separator (e.g. a colon :).' },
  properties_target: { type: 'string', maxLength: 80, description: 'Some resource types allow more than one key / value pair per instance.  For example, Cinder allows user and image metadata on volumes. Only the image properties metadata is evaluated by Nova (scheduling or drivers). This property allows a namespace target to remove the ambiguity.' },
  created_at: timestamp('resource type association'),
  updated_at: timestamp('the last resource type association modification'),
}, ['name'])

/** The ten documents of /v2/schemas/metadefs/{namespace,namespaces,…}. */
export function metadefSchemas(): Record<string, unknown> {
  const { required: _r, ...propertyForDict } = PROPERTY
  return {
    namespace: NAMESPACE, namespaces: collection('namespaces', NAMESPACE, true),
    object: OBJECT, objects: collection('objects', OBJECT, true),
    property: PROPERTY,
    properties: {
      name: 'properties',
      properties: { properties: { type: 'object', additionalProperties: { ...propertyForDict, required: ['type', 'title'] } },
        first: { type: 'string' }, next: { type: 'string' }, schema: { type: 'string' } },
      links: [{ rel: 'first', href: '{first}' }, { rel: 'next', href: '{next}' }, { rel: 'describedby', href: '{schema}' }],
    },
    tag: TAG, tags: collection('tags', TAG, true),
    resource_type: RESOURCE_TYPE, resource_types: collection('resource_type_associations', RESOURCE_TYPE, true),
  }
}

const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: false })
const compiled = new Map<string, ValidateFunction>()

/** Validates a metadef request body; throws Glance's 400 naming the schema. */
export function checkBody(kind: 'namespace' | 'object' | 'property' | 'property-no-name' | 'tag' | 'tags' | 'resource_type', body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new CloudError('BadRequest', 'Body expected in request.')
  let v = compiled.get(kind)
  if (!v) {
    const doc = { namespace: NAMESPACE, object: OBJECT, property: PROPERTY, 'property-no-name': PROPERTY_NO_NAME,
      tag: TAG, tags: TAG_LIST, resource_type: RESOURCE_TYPE }[kind]
    v = ajv.compile(doc)
    compiled.set(kind, v)
  }
  if (!v(body)) {
    const e = v.errors?.[0]
    const where = e?.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') + ' ' : ''
    const extra = e?.keyword === 'additionalProperties' ? ` ('${(e.params as { additionalProperty: string }).additionalProperty}' was unexpected)` : ''
    throw new CloudError('BadRequest', `Provided object does not match schema '${kind.replace('-no-name', '')}': ${where}${e?.message ?? 'is invalid'}${extra}`)
  }
  return body as Record<string, unknown>
}

/** Glance refuses these keys in metadef bodies with 403 (they are the server's to set). */
export function checkAllowed(body: Record<string, unknown>, keys = ['self', 'schema', 'created_at', 'updated_at']): void {
  for (const k of keys) if (k in body) throw new CloudError('Forbidden', `Attribute '${k}' is read-only.`)
}
