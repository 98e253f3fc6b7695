import type { z } from 'zod';
import type { AuditSink } from './auditLog';
import type { DurableStoreOptions } from './durableStore';
import { DurableStore } from './durableStore';
import { StorageError } from './errors';
import type { StateData, StateRecord } from './stateCodec';
import { applyStateRecord, stateCodec } from './stateCodec';
import type { MigrationInfo, StateMigration } from './stateMigrations';
import type { StagedChange } from './stateMigrations';
import { orderedMigrations, stageMigration } from './stateMigrations';

/** Keys under this prefix belong to Lifeline (the schema version lives there). */
export const RESERVED_KEY_PREFIX = '__lifeline.';
export const VERSION_KEY = `${RESERVED_KEY_PREFIX}schemaVersion`;

/** The tiny interface the StateStore stands on; `DurableStore` and `MemoryStateBackend` fill it. */
export interface StateBackend {
  readonly name: string;
  /** The acknowledged data. */
  readonly data: StateData;
  commit(records: readonly StateRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** The in-memory twin (STYLE rule 2): same semantics, acknowledged on the next microtask. */
export class MemoryStateBackend implements StateBackend {
  readonly data: StateData = new Map();
  private closed = false;
  constructor(readonly name = 'state') {}
  async commit(records: readonly StateRecord[]): Promise<void> {
    if (this.closed) throw new StorageError('closed', `The store ${this.name} is closed.`);
    const encoded = records.map((record) => stateCodec.decodeRecord(stateCodec.encodeRecord(record)));
    for (const record of encoded) applyStateRecord(this.data, record);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

export type StateOperation =
  | { readonly namespace: string; readonly key: string; readonly value: unknown }
  | { readonly namespace: string; readonly key: string; readonly delete: true };

export interface StateChangeEvent {
  readonly namespace: string;
  readonly keys: readonly string[];
  /** The whole store was replaced (a backup restored): `keys` are those whose value differs. */
  readonly restored?: true;
}

export interface NamespaceOptions {
  /** Validates every value of the namespace unless `keys` has a schema for the key. */
  readonly schema?: z.ZodType;
  readonly keys?: Readonly<Record<string, z.ZodType>>;
  /** The schema version this code expects. @default the highest migration version, or 0 */
  readonly version?: number;
  readonly migrations?: readonly StateMigration[];
}

export interface StateStoreOptions extends Omit<DurableStoreOptions<StateData, StateRecord>, 'codec' | 'name'> {
  /** @default 'state' */
  readonly name?: string;
  /** Takes the automatic backup before each migration step; a failure stops the migration. */
  readonly beforeMigration?: (info: MigrationInfo) => Promise<void>;
}

interface Disposable {
  dispose(): void;
}

/**
 * A namespaced key-value store on the durable primitive. Writes are cache-first (a `get` right
 * after `set` sees the new value) and resolve only when their journal record is on disk; a
 * failed write is taken back out of the cache. Values are JSON, validated with zod on write and
 * on read; several keys change atomically with `batch`, also across a crash.
 */
export class StateStore {
  private readonly schemas = new Map<string, NamespaceOptions>();
  private readonly listeners = new Set<(event: StateChangeEvent) => void>();
  private readonly pending: (readonly StateRecord[])[] = [];

  constructor(
    private readonly backend: StateBackend,
    private readonly hooks: { beforeMigration?: (info: MigrationInfo) => Promise<void>; audit?: AuditSink } = {},
  ) {}

  /** Opens (recovering if need be) the file-backed store. */
  static async open(options: StateStoreOptions): Promise<StateStore> {
    const durable = await DurableStore.open({ ...options, name: options.name ?? 'state', codec: stateCodec });
    const backend: StateBackend & { durable: DurableStore<StateData, StateRecord> } = {
      durable,
      name: durable.name,
      get data() {
        return durable.state;
      },
      commit: (records) => durable.commit(records),
      close: () => durable.close(),
    };
    const store = new StateStore(backend, { beforeMigration: options.beforeMigration, audit: options.audit });
    // A restore swaps the durable state underneath: reads see it at once (they read `durable.state`); listeners are told what changed.
    durable.onDidReplace((previous) => store.notifyReplaced(previous));
    return store;
  }

  static inMemory(hooks: { beforeMigration?: (info: MigrationInfo) => Promise<void>; audit?: AuditSink } = {}): StateStore {
    return new StateStore(new MemoryStateBackend(), hooks);
  }

  /** The durable store underneath, for metrics, events, backups and compaction; undefined in memory. */
  get durable(): DurableStore<StateData, StateRecord> | undefined {
    return (this.backend as { durable?: DurableStore<StateData, StateRecord> }).durable;
  }

  /** Registers a namespace's schemas and brings its stored data up to `version`. */
  async namespace(name: string, options: NamespaceOptions = {}): Promise<StateNamespace> {
    checkNamespace(name);
    const migrations = orderedMigrations(options.migrations ?? [], name);
    const target = options.version ?? migrations.at(-1)?.version ?? 0;
    const storedJson = this.rawGet(name, VERSION_KEY);
    let current = storedJson === undefined ? 0 : Number(JSON.parse(storedJson));
    if (current > target) {
      throw new StorageError(
        'unsupportedVersion',
        `Namespace "${name}" holds schema version ${current}, newer than this code's ${target}. Update the extension that owns it.`,
      );
    }
    this.schemas.set(name, options);
    if (current < target && storedJson === undefined && this.keys(name).length === 0) {
      // A fresh namespace: nothing to migrate.
      await this.backend.commit([{ op: 'set', namespace: name, key: VERSION_KEY, json: JSON.stringify(target) }]);
      current = target;
    }
    for (const migration of migrations) {
      if (migration.version <= current || migration.version > target) continue;
      const info: MigrationInfo = { store: this.backend.name, namespace: name, fromVersion: current, toVersion: migration.version };
      try {
        await this.hooks.beforeMigration?.(info);
        const staged = await stageMigration(
          migration,
          (key) => this.rawParse(name, key),
          () => this.keys(name),
        );
        const records: StateRecord[] = staged.map((change) =>
          'deleted' in change
            ? { op: 'delete', namespace: name, key: change.key }
            : { op: 'set', namespace: name, key: change.key, json: this.encode(name, change.key, change.value) },
        );
        records.push({ op: 'set', namespace: name, key: VERSION_KEY, json: JSON.stringify(migration.version) });
        await this.backend.commit(records);
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        this.hooks.audit?.record({ store: this.backend.name, action: 'migrationFailed', detail: { ...info, error: detail } });
        throw new StorageError(
          'migrationFailed',
          `Migrating "${name}" from version ${current} to ${migration.version} failed: ${detail}. Nothing was changed; a backup was taken before the attempt.`,
          { cause: error },
        );
      }
      this.hooks.audit?.record({ store: this.backend.name, action: 'migrate', detail: { ...info, description: migration.description } });
      current = migration.version;
    }
    return new StateNamespace(this, name);
  }

  /** The namespace's stored schema version: 0 when none is stored. */
  version(namespace: string): number {
    const json = this.rawGet(namespace, VERSION_KEY);
    return json === undefined ? 0 : Number(JSON.parse(json));
  }

  /**
   * Commits one migration step worked out elsewhere (by a namespace's owner in another process,
   * docs/state-api.md): the staged changes and the new version in one batch, but only while the
   * stored version is still `fromVersion`. Returns false, having written nothing, when it is not
   * (another process migrated first). A namespace that holds data is backed up first.
   */
  async migrateStep(
    namespace: string,
    fromVersion: number,
    toVersion: number,
    changes: readonly StagedChange[],
    description?: string,
  ): Promise<boolean> {
    checkNamespace(namespace);
    if (this.version(namespace) !== fromVersion) return false;
    const records: StateRecord[] = changes.map((change) => {
      checkKey(change.key);
      return 'deleted' in change
        ? { op: 'delete', namespace, key: change.key }
        : { op: 'set', namespace, key: change.key, json: this.encode(namespace, change.key, change.value) };
    });
    records.push({ op: 'set', namespace, key: VERSION_KEY, json: JSON.stringify(toVersion) });
    const info: MigrationInfo = { store: this.backend.name, namespace, fromVersion, toVersion };
    if (this.keys(namespace).length > 0) await this.hooks.beforeMigration?.(info);
    // Checked again after the backup's await: the version test and the pending write must be one step.
    if (this.version(namespace) !== fromVersion) return false;
    await this.commitRecords(records);
    this.hooks.audit?.record({ store: this.backend.name, action: 'migrate', detail: { ...info, description } });
    return true;
  }

  /** Every key of the namespace with its stored value (unvalidated), reserved keys left out. */
  entries(namespace: string): [string, unknown][] {
    return this.keys(namespace).map((key) => [key, this.rawParse(namespace, key)]);
  }

  get<T = unknown>(namespace: string, key: string): T | undefined {
    const value = this.rawParse(namespace, key);
    if (value === undefined) return undefined;
    const schema = this.schemaFor(namespace, key);
    if (!schema) return value as T;
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new StorageError(
        'validationFailed',
        `The stored value of "${namespace}/${key}" does not match its schema: ${parsed.error.message}`,
      );
    }
    return parsed.data as T;
  }

  exists(namespace: string, key: string): boolean {
    return this.rawGet(namespace, key) !== undefined;
  }

  /** The namespace's keys, sorted, reserved keys left out. */
  keys(namespace: string): string[] {
    const keys = new Set([...(this.backend.data.get(namespace)?.keys() ?? [])]);
    for (const records of this.pending) {
      for (const record of records) {
        if (record.namespace !== namespace) continue;
        if (record.op === 'set') keys.add(record.key);
        else keys.delete(record.key);
      }
    }
    return [...keys].filter((key) => !key.startsWith(RESERVED_KEY_PREFIX)).sort();
  }

  set(namespace: string, key: string, value: unknown): Promise<void> {
    return this.batch([{ namespace, key, value }]);
  }

  delete(namespace: string, key: string): Promise<void> {
    return this.batch([{ namespace, key, delete: true }]);
  }

  /** Applies every operation or none, also across a crash. */
  batch(operations: readonly StateOperation[]): Promise<void> {
    let records: StateRecord[];
    try {
      records = operations.map((operation) => {
        checkNamespace(operation.namespace);
        checkKey(operation.key);
        return 'delete' in operation
          ? { op: 'delete', namespace: operation.namespace, key: operation.key }
          : {
              op: 'set',
              namespace: operation.namespace,
              key: operation.key,
              json: this.encode(operation.namespace, operation.key, operation.value),
            };
      });
    } catch (error) {
      return Promise.reject(error);
    }
    if (records.length === 0) return Promise.resolve();
    return this.commitRecords(records);
  }

  /** Commits through the pending overlay (a read right after sees the records), then tells the listeners. */
  private commitRecords(records: readonly StateRecord[]): Promise<void> {
    this.pending.push(records);
    const settle = (): void => {
      this.pending.splice(this.pending.indexOf(records), 1);
    };
    return this.backend.commit(records).then(
      () => {
        settle();
        this.auditAndNotify(records);
      },
      (error: unknown) => {
        settle();
        throw error;
      },
    );
  }

  onDidChange(listener: (event: StateChangeEvent) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.backend.close();
  }

  /** Tells the listeners which keys a restore changed, namespace by namespace. */
  private notifyReplaced(previous: StateData): void {
    const current = this.backend.data;
    for (const namespace of new Set([...previous.keys(), ...current.keys()])) {
      const before = previous.get(namespace);
      const after = current.get(namespace);
      const keys = [...new Set([...(before?.keys() ?? []), ...(after?.keys() ?? [])])]
        .filter((key) => before?.get(key) !== after?.get(key))
        .sort();
      if (keys.length === 0) continue;
      const visible = keys.filter((key) => !key.startsWith(RESERVED_KEY_PREFIX));
      for (const listener of this.listeners) listener({ namespace, keys: visible, restored: true });
    }
  }

  private auditAndNotify(records: readonly StateRecord[]): void {
    const byNamespace = new Map<string, string[]>();
    for (const record of records) {
      const keys = byNamespace.get(record.namespace) ?? [];
      keys.push(record.key);
      byNamespace.set(record.namespace, keys);
    }
    const action = records.length > 1 ? 'batch' : (records[0] as StateRecord).op;
    for (const [namespace, all] of byNamespace) {
      this.hooks.audit?.record({ store: this.backend.name, action, detail: { namespace, keys: all.slice(0, 20), count: all.length } });
      const keys = all.filter((key) => !key.startsWith(RESERVED_KEY_PREFIX));
      // A migration that changed nothing but the version is no change to the namespace's keys.
      if (keys.length === 0) continue;
      for (const listener of this.listeners) listener({ namespace, keys });
    }
  }

  private schemaFor(namespace: string, key: string): z.ZodType | undefined {
    const options = this.schemas.get(namespace);
    return options?.keys?.[key] ?? options?.schema;
  }

  private encode(namespace: string, key: string, value: unknown): string {
    let checked = value;
    const schema = this.schemaFor(namespace, key);
    if (schema) {
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        throw new StorageError(
          'validationFailed',
          `The value for "${namespace}/${key}" does not match its schema: ${parsed.error.message}`,
        );
      }
      checked = parsed.data;
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(checked);
    } catch (error) {
      throw new StorageError('validationFailed', `The value for "${namespace}/${key}" is not JSON: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (json === undefined) {
      throw new StorageError('validationFailed', `The value for "${namespace}/${key}" is not JSON (use delete to remove a key).`);
    }
    return json;
  }

  private rawGet(namespace: string, key: string): string | undefined {
    for (let index = this.pending.length - 1; index >= 0; index--) {
      const records = this.pending[index] as readonly StateRecord[];
      for (let inner = records.length - 1; inner >= 0; inner--) {
        const record = records[inner] as StateRecord;
        if (record.namespace === namespace && record.key === key) return record.op === 'set' ? record.json : undefined;
      }
    }
    return this.backend.data.get(namespace)?.get(key);
  }

  private rawParse(namespace: string, key: string): unknown {
    const json = this.rawGet(namespace, key);
    if (json === undefined) return undefined;
    try {
      return JSON.parse(json);
    } catch (error) {
      throw new StorageError('validationFailed', `The stored value of "${namespace}/${key}" is not JSON.`, { cause: error });
    }
  }
}

/** A namespace's view of the store: what another extension gets. */
export class StateNamespace {
  constructor(
    private readonly store: StateStore,
    readonly name: string,
  ) {}
  get<T = unknown>(key: string): T | undefined {
    return this.store.get<T>(this.name, key);
  }
  exists(key: string): boolean {
    return this.store.exists(this.name, key);
  }
  keys(): string[] {
    return this.store.keys(this.name);
  }
  set(key: string, value: unknown): Promise<void> {
    return this.store.set(this.name, key, value);
  }
  delete(key: string): Promise<void> {
    return this.store.delete(this.name, key);
  }
  /** Several keys of this namespace, all or none. */
  batch(
    operations: readonly ({ readonly key: string; readonly value: unknown } | { readonly key: string; readonly delete: true })[],
  ): Promise<void> {
    return this.store.batch(operations.map((operation) => ({ ...operation, namespace: this.name })));
  }
  onDidChange(listener: (keys: readonly string[]) => void): Disposable {
    return this.store.onDidChange((event) => {
      if (event.namespace === this.name) listener(event.keys);
    });
  }
}

function checkNamespace(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new StorageError('validationFailed', `"${String(name)}" is not a valid namespace name.`);
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new StorageError('validationFailed', 'A key must be a non-empty string.');
  if (key.startsWith(RESERVED_KEY_PREFIX)) {
    throw new StorageError('validationFailed', `Keys starting with "${RESERVED_KEY_PREFIX}" are reserved for Lifeline.`);
  }
}
