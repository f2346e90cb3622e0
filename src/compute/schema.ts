import type { Kysely } from 'kysely'
import type { Migration } from '../core/db/index.ts'

// The compute service's tables (schema `compute`), portable to SQLite and PostgreSQL: ids TEXT,
// times ISO TEXT, booleans INTEGER 0/1.

/** A flavor. `flavorid` is the id clients see; `id` is the internal, never-reused serial. */
export interface FlavorRow {
  flavorid: string; name: string; memory_mb: number; vcpus: number; root_gb: number; ephemeral_gb: number
  swap: number; rxtx_factor: number; is_public: number; disabled: number; description: string | null
  created_at: string; updated_at: string | null
}
/** One extra spec of a flavor (values are strings, as in Nova). */
export interface FlavorExtraSpecRow { flavorid: string; key: string; value: string }
/** A project allowed to use a private flavor. */
export interface FlavorProjectRow { flavorid: string; project_id: string }
/** An SSH public key or X.509 certificate of a user. */
export interface KeyPairRow {
  id: number; user_id: string; name: string; type: string; public_key: string; fingerprint: string; created_at: string
}
/** A quota override; user_id '' is the project's own limit. Absent rows mean the default. */
export interface QuotaRow { project_id: string; user_id: string; resource: string; hard_limit: number }

/** A quota class's limit; the `default` class overrides the configured defaults for every project. */
export interface QuotaClassRow { class_name: string; resource: string; hard_limit: number }

/** The tables of the `compute` schema, for Kysely. */
export interface ComputeSchema extends ServerTables, AggregateTables {
  flavors: FlavorRow
  flavor_extra_specs: FlavorExtraSpecRow
  flavor_projects: FlavorProjectRow
  key_pairs: KeyPairRow
  quotas: QuotaRow
  quota_classes: QuotaClassRow
}


const foundation: Migration = {
  version: 1,
  name: 'flavors, extra specs, flavor access, key pairs, quotas',
  async up(db: Kysely<any>, engine) {
    await db.schema.createTable('flavors')
      .addColumn('flavorid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('memory_mb', 'integer', (c) => c.notNull())
      .addColumn('vcpus', 'integer', (c) => c.notNull())
      .addColumn('root_gb', 'integer', (c) => c.notNull())
      .addColumn('ephemeral_gb', 'integer', (c) => c.notNull())
      .addColumn('swap', 'integer', (c) => c.notNull())
      .addColumn('rxtx_factor', 'double precision', (c) => c.notNull())
      .addColumn('is_public', 'integer', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .execute()
    await db.schema.createTable('flavor_extra_specs')
      .addColumn('flavorid', 'text', (c) => c.notNull().references('flavors.flavorid').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('flavor_extra_specs_pk', ['flavorid', 'key'])
      .execute()
    await db.schema.createTable('flavor_projects')
      .addColumn('flavorid', 'text', (c) => c.notNull().references('flavors.flavorid').onDelete('cascade'))
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('flavor_projects_pk', ['flavorid', 'project_id'])
      .execute()
    await db.schema.createTable('key_pairs')
      .addColumn('id', 'integer', (c) => engine === 'postgres' ? c.generatedByDefaultAsIdentity().primaryKey() : c.primaryKey().autoIncrement())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('key_pairs_user_name', ['user_id', 'name'])
      .execute()
    await db.schema.createTable('quotas')
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('hard_limit', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'user_id', 'resource'])
      .execute()
  },
}

const quotaClasses: Migration = {
  version: 2,
  name: 'quota classes',
  async up(db: Kysely<any>) {
    await db.schema.createTable('quota_classes')
      .addColumn('class_name', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('hard_limit', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('quota_classes_pk', ['class_name', 'resource'])
      .execute()
  },
}


// ---- Servers, the agent's desired state, scheduling (migration 3) -------------------------------
// The contract between the API, the conductor (scheduler) and the compute agents is written up in
// docs/compute.md: read it before changing these tables.

/**
 * A server. The API writes desired state (`desired_power`, `pending_op`, bumping `desired_gen`);
 * the agent of `host` reconciles it and reports observed state (`power_state`, `vm_state`,
 * `task_state`, `applied_gen`). JSON columns are TEXT.
 */
export interface InstanceRow {
  uuid: string; project_id: string; user_id: string
  display_name: string; display_description: string | null; hostname: string
  reservation_id: string; launch_index: number
  /** Glance image id, '' when booted from a volume. */
  image_ref: string
  /** JSON: the flavor as it was at create/resize time, with its extra specs (Nova embeds it too). */
  flavor: string
  key_name: string | null; key_data: string | null; user_data: string | null
  /** The zone asked for at create ('' none); the zone it landed in is its host's service's zone. */
  availability_zone: string
  host: string | null; node: string | null
  /** Nova's vm_state (building/active/stopped/paused/suspended/error/deleted/resized/rescued…). */
  vm_state: string
  /** Nova's task_state or null (scheduling/spawning/powering-off/rebooting/image_snapshot…). */
  task_state: string | null
  /** Nova's numeric power state (virt/driver.ts PowerState). */
  power_state: number
  /** What the agent must make true: 'running' | 'shutdown' | 'paused' | 'suspended' | 'deleted'. */
  desired_power: string
  /** Bumped on every change of desired state; the agent reports the generation it applied. */
  desired_gen: number
  applied_gen: number
  /** JSON of the one-shot operation the agent must run, or null (docs/compute.md "Pending ops"). */
  pending_op: string | null
  locked: number; locked_by: string | null; locked_reason: string | null
  access_ip_v4: string | null; access_ip_v6: string | null
  config_drive: string
  /** JSON: the networks asked for ('auto', 'none' or a list of {uuid, fixed_ip, port}). */
  requested_networks: string
  /** JSON: Nova's `addresses` object as last reported ({} before any NIC is up). */
  addresses: string
  /** JSON: block_device_mapping_v2 as requested (after defaults). */
  block_device_mapping: string
  /** JSON object: Nova's system metadata (image properties at boot, old flavor during resize, retries…). */
  system_metadata: string
  root_device_name: string
  progress: number
  created_at: string; updated_at: string | null
  launched_at: string | null; terminated_at: string | null
  /** 1 once deleted (kept for instance actions, usage and `deleted=true` listings by admins). */
  deleted: number; deleted_at: string | null
}
/** A server's user metadata. */
export interface InstanceMetadataRow { uuid: string; key: string; value: string }
/** A server's tag (2.26). */
export interface InstanceTagRow { uuid: string; tag: string }
/** A fault recorded on a server (the newest one is shown while it is in ERROR). */
export interface InstanceFaultRow {
  id: number; uuid: string; code: number; message: string; details: string; host: string | null; created_at: string
}
/** An instance action (os-instance-actions): one per API action on a server. */
export interface InstanceActionRow {
  id: number; uuid: string; action: string; request_id: string; user_id: string; project_id: string
  start_time: string; finish_time: string | null; message: string | null; updated_at: string | null
}
/** A step of an instance action (compute__do_build_and_run_instance, compute_stop_instance…). */
export interface InstanceActionEventRow {
  id: number; action_id: number; event: string; start_time: string; finish_time: string | null
  result: string | null; traceback: string | null; host: string | null; details: string | null
}
/** A server group and its policy ('affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'). */
export interface ServerGroupRow {
  uuid: string; name: string; project_id: string; user_id: string; policy: string
  /** JSON object of rules (2.64: {max_server_per_host}). */
  rules: string
  created_at: string
}
export interface ServerGroupMemberRow { group_uuid: string; instance_uuid: string }
/** A compute service (nova-compute on a host; the agent registers it). */
export interface ServiceRow {
  id: number; uuid: string; host: string; binary: string; zone: string
  disabled: number; disabled_reason: string | null; forced_down: number
  last_seen_at: string | null; created_at: string; updated_at: string | null
}
/**
 * A hypervisor (one per compute host here). `agent_url` is where the control plane asks the agent
 * synchronous questions (console output); '' for the in-process agent of all-in-one.
 */
export interface ComputeNodeRow {
  id: number; uuid: string; host: string; hypervisor_hostname: string; hypervisor_type: string
  hypervisor_version: number; vcpus: number; memory_mb: number; local_gb: number
  host_ip: string; agent_url: string; created_at: string; updated_at: string | null
}
/** Bumped in the same transaction as any change to a server assigned to the host: the agents' watch cursor. */
export interface HostRevisionRow { host: string; revision: number }
/** Placement: a resource provider (one per compute node, uuid = compute node uuid). */
export interface ResourceProviderRow { uuid: string; name: string; generation: number; created_at: string; updated_at: string | null }
/** Placement: how much of a resource class a provider has. */
export interface InventoryRow {
  rp_uuid: string; resource_class: string; total: number; reserved: number
  min_unit: number; max_unit: number; step_size: number; allocation_ratio: number
}
/** Placement: what a consumer (a server) uses of a provider. */
export interface AllocationRow { consumer_uuid: string; rp_uuid: string; resource_class: string; used: number }
/** Placement: a consumer, its owner and its generation. */
export interface ConsumerRow { uuid: string; project_id: string; user_id: string; generation: number }

/** The tables migration 3 adds. */
export interface ServerTables {
  instances: InstanceRow
  instance_metadata: InstanceMetadataRow
  instance_tags: InstanceTagRow
  instance_faults: InstanceFaultRow
  instance_actions: InstanceActionRow
  instance_action_events: InstanceActionEventRow
  server_groups: ServerGroupRow
  server_group_members: ServerGroupMemberRow
  services: ServiceRow
  compute_nodes: ComputeNodeRow
  host_revisions: HostRevisionRow
  resource_providers: ResourceProviderRow
  inventories: InventoryRow
  allocations: AllocationRow
  consumers: ConsumerRow
}

const servers: Migration = {
  version: 3,
  name: 'servers, actions, server groups, services, compute nodes, placement',
  async up(db: Kysely<any>, engine) {
    const serial = (c: any) => engine === 'postgres' ? c.generatedByDefaultAsIdentity().primaryKey() : c.primaryKey().autoIncrement()
    await db.schema.createTable('instances')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('display_description', 'text')
      .addColumn('hostname', 'text', (c) => c.notNull())
      .addColumn('reservation_id', 'text', (c) => c.notNull())
      .addColumn('launch_index', 'integer', (c) => c.notNull())
      .addColumn('image_ref', 'text', (c) => c.notNull())
      .addColumn('flavor', 'text', (c) => c.notNull())
      .addColumn('key_name', 'text')
      .addColumn('key_data', 'text')
      .addColumn('user_data', 'text')
      .addColumn('availability_zone', 'text', (c) => c.notNull())
      .addColumn('host', 'text')
      .addColumn('node', 'text')
      .addColumn('vm_state', 'text', (c) => c.notNull())
      .addColumn('task_state', 'text')
      .addColumn('power_state', 'integer', (c) => c.notNull())
      .addColumn('desired_power', 'text', (c) => c.notNull())
      .addColumn('desired_gen', 'integer', (c) => c.notNull())
      .addColumn('applied_gen', 'integer', (c) => c.notNull())
      .addColumn('pending_op', 'text')
      .addColumn('locked', 'integer', (c) => c.notNull())
      .addColumn('locked_by', 'text')
      .addColumn('locked_reason', 'text')
      .addColumn('access_ip_v4', 'text')
      .addColumn('access_ip_v6', 'text')
      .addColumn('config_drive', 'text', (c) => c.notNull())
      .addColumn('requested_networks', 'text', (c) => c.notNull())
      .addColumn('addresses', 'text', (c) => c.notNull())
      .addColumn('block_device_mapping', 'text', (c) => c.notNull())
      .addColumn('system_metadata', 'text', (c) => c.notNull())
      .addColumn('root_device_name', 'text', (c) => c.notNull())
      .addColumn('progress', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .addColumn('launched_at', 'text')
      .addColumn('terminated_at', 'text')
      .addColumn('deleted', 'integer', (c) => c.notNull())
      .addColumn('deleted_at', 'text')
      .execute()
    await db.schema.createIndex('instances_project').on('instances').columns(['project_id', 'deleted', 'created_at']).execute()
    await db.schema.createIndex('instances_host').on('instances').columns(['host', 'deleted']).execute()
    await db.schema.createIndex('instances_created').on('instances').columns(['created_at', 'uuid']).execute()
    await db.schema.createTable('instance_metadata')
      .addColumn('uuid', 'text', (c) => c.notNull().references('instances.uuid').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('instance_metadata_pk', ['uuid', 'key'])
      .execute()
    await db.schema.createTable('instance_tags')
      .addColumn('uuid', 'text', (c) => c.notNull().references('instances.uuid').onDelete('cascade'))
      .addColumn('tag', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('instance_tags_pk', ['uuid', 'tag'])
      .execute()
    await db.schema.createTable('instance_faults')
      .addColumn('id', 'integer', serial)
      .addColumn('uuid', 'text', (c) => c.notNull().references('instances.uuid').onDelete('cascade'))
      .addColumn('code', 'integer', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('host', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('instance_faults_uuid').on('instance_faults').columns(['uuid', 'id']).execute()
    await db.schema.createTable('instance_actions')
      .addColumn('id', 'integer', serial)
      .addColumn('uuid', 'text', (c) => c.notNull().references('instances.uuid').onDelete('cascade'))
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('start_time', 'text', (c) => c.notNull())
      .addColumn('finish_time', 'text')
      .addColumn('message', 'text')
      .addColumn('updated_at', 'text')
      .execute()
    await db.schema.createIndex('instance_actions_uuid').on('instance_actions').columns(['uuid', 'start_time']).execute()
    await db.schema.createIndex('instance_actions_request').on('instance_actions').columns(['request_id']).execute()
    await db.schema.createTable('instance_action_events')
      .addColumn('id', 'integer', serial)
      .addColumn('action_id', 'integer', (c) => c.notNull().references('instance_actions.id').onDelete('cascade'))
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('start_time', 'text', (c) => c.notNull())
      .addColumn('finish_time', 'text')
      .addColumn('result', 'text')
      .addColumn('traceback', 'text')
      .addColumn('host', 'text')
      .addColumn('details', 'text')
      .execute()
    await db.schema.createIndex('instance_action_events_action').on('instance_action_events').columns(['action_id']).execute()
    await db.schema.createTable('server_groups')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('policy', 'text', (c) => c.notNull())
      .addColumn('rules', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createTable('server_group_members')
      .addColumn('group_uuid', 'text', (c) => c.notNull().references('server_groups.uuid').onDelete('cascade'))
      .addColumn('instance_uuid', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('server_group_members_pk', ['group_uuid', 'instance_uuid'])
      .execute()
    await db.schema.createIndex('server_group_members_instance').on('server_group_members').columns(['instance_uuid']).execute()
    await db.schema.createTable('services')
      .addColumn('id', 'integer', serial)
      .addColumn('uuid', 'text', (c) => c.notNull().unique())
      .addColumn('host', 'text', (c) => c.notNull())
      .addColumn('binary', 'text', (c) => c.notNull())
      .addColumn('zone', 'text', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull())
      .addColumn('disabled_reason', 'text')
      .addColumn('forced_down', 'integer', (c) => c.notNull())
      .addColumn('last_seen_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .addUniqueConstraint('services_host_binary', ['host', 'binary'])
      .execute()
    await db.schema.createTable('compute_nodes')
      .addColumn('id', 'integer', serial)
      .addColumn('uuid', 'text', (c) => c.notNull().unique())
      .addColumn('host', 'text', (c) => c.notNull().unique())
      .addColumn('hypervisor_hostname', 'text', (c) => c.notNull())
      .addColumn('hypervisor_type', 'text', (c) => c.notNull())
      .addColumn('hypervisor_version', 'integer', (c) => c.notNull())
      .addColumn('vcpus', 'integer', (c) => c.notNull())
      .addColumn('memory_mb', 'integer', (c) => c.notNull())
      .addColumn('local_gb', 'integer', (c) => c.notNull())
      .addColumn('host_ip', 'text', (c) => c.notNull())
      .addColumn('agent_url', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .execute()
    await db.schema.createTable('host_revisions')
      .addColumn('host', 'text', (c) => c.primaryKey())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .execute()
    await db.schema.createTable('resource_providers')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('generation', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .execute()
    await db.schema.createTable('inventories')
      .addColumn('rp_uuid', 'text', (c) => c.notNull().references('resource_providers.uuid').onDelete('cascade'))
      .addColumn('resource_class', 'text', (c) => c.notNull())
      .addColumn('total', 'integer', (c) => c.notNull())
      .addColumn('reserved', 'integer', (c) => c.notNull())
      .addColumn('min_unit', 'integer', (c) => c.notNull())
      .addColumn('max_unit', 'integer', (c) => c.notNull())
      .addColumn('step_size', 'integer', (c) => c.notNull())
      .addColumn('allocation_ratio', 'double precision', (c) => c.notNull())
      .addPrimaryKeyConstraint('inventories_pk', ['rp_uuid', 'resource_class'])
      .execute()
    await db.schema.createTable('consumers')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('generation', 'integer', (c) => c.notNull())
      .execute()
    await db.schema.createTable('allocations')
      .addColumn('consumer_uuid', 'text', (c) => c.notNull().references('consumers.uuid').onDelete('cascade'))
      .addColumn('rp_uuid', 'text', (c) => c.notNull().references('resource_providers.uuid'))
      .addColumn('resource_class', 'text', (c) => c.notNull())
      .addColumn('used', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('allocations_pk', ['consumer_uuid', 'rp_uuid', 'resource_class'])
      .execute()
    await db.schema.createIndex('allocations_rp').on('allocations').columns(['rp_uuid', 'resource_class']).execute()
  },
}

// ---- Host aggregates (migration 4) ---------------------------------------------------------------
// Nova's aggregates; an aggregate's availability zone is its metadata key `availability_zone`,
// mirrored into `services.zone` of its hosts (src/compute/aggregates.ts).

/** A host aggregate. Deleting one removes the row (Nova soft-deletes; nothing here reads deleted ones). */
export interface AggregateRow { id: number; uuid: string; name: string; created_at: string; updated_at: string | null }
/** A host in an aggregate. */
export interface AggregateHostRow { aggregate_id: number; host: string }
/** An aggregate's metadata (including `availability_zone`). */
export interface AggregateMetadataRow { aggregate_id: number; key: string; value: string }

/** The tables migration 4 adds. */
export interface AggregateTables {
  aggregates: AggregateRow
  aggregate_hosts: AggregateHostRow
  aggregate_metadata: AggregateMetadataRow
}

const aggregates: Migration = {
  version: 4,
  name: 'host aggregates',
  async up(db: Kysely<any>, engine) {
    const serial = (c: any) => engine === 'postgres' ? c.generatedByDefaultAsIdentity().primaryKey() : c.primaryKey().autoIncrement()
    await db.schema.createTable('aggregates')
      .addColumn('id', 'integer', serial)
      .addColumn('uuid', 'text', (c) => c.notNull().unique())
      // Rows are removed on delete, so a plain unique is "unique among live aggregates".
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .execute()
    await db.schema.createTable('aggregate_hosts')
      .addColumn('aggregate_id', 'integer', (c) => c.notNull().references('aggregates.id').onDelete('cascade'))
      .addColumn('host', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('aggregate_hosts_pk', ['aggregate_id', 'host'])
      .execute()
    await db.schema.createIndex('aggregate_hosts_host').on('aggregate_hosts').columns(['host']).execute()
    await db.schema.createTable('aggregate_metadata')
      .addColumn('aggregate_id', 'integer', (c) => c.notNull().references('aggregates.id').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('aggregate_metadata_pk', ['aggregate_id', 'key'])
      .execute()
  },
}

/** Migrations of the `compute` schema, oldest first. */
export const computeMigrations: Migration[] = [foundation, quotaClasses, servers, aggregates]
