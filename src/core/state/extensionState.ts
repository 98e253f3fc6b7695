import type { StagedChange, StateMigration } from '../storage/stateMigrations';
import { orderedMigrations, stageMigration } from '../storage/stateMigrations';
import { StateError, toStateError } from './stateErrors';
import type { StateReplies, StateRequest, StateWriteOperation } from './stateProtocol';
import { keyProblem, MAX_REQUEST_CHARS, namespaceProblem, stateNoticeSchema } from './stateProtocol';

interface Disposable {
  dispose(): void;
}

/** What validates a namespace's values: a zod schema fits (only `safeParse` is used). */
export interface StateSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { message: string } };
}

export interface StateNamespaceOptions<T> {
  /** Checks every value written and read. @default none: any JSON value */
  readonly schema?: StateSchema<T>;
  /** The schema version this code expects. @default the highest migration's version, or 0 */
  readonly version?: number;
  readonly migrations?: readonly StateMigration[];
}

/** How a namespace reaches the store: the queue session's `state` service, wherever the holder is. */
export interface StateEndpoint {
  request(body: StateRequest): Promise<unknown>;
  onDidNotice(listener: (body: unknown) => void): Disposable;
}

export interface StateChange {
  /** The keys written or deleted (none of the reserved ones). */
  readonly keys: readonly string[];
  /** A backup was restored: these keys differ from before it. */
  readonly restored?: true;
}

/** Attempts at a migration that another window keeps overtaking: far more than two windows ever need. */
const MAX_MIGRATION_ROUNDS = 100;

/**
 * Opens `namespace` for another extension: checks its name, brings its stored data up to the
 * expected version (each migration runs here, where the caller's code is; its result is committed
 * by the holder only if no other window migrated meanwhile), then returns the handle.
 */
export async function openStateNamespace<T>(
  endpoint: StateEndpoint,
  namespace: string,
  options: StateNamespaceOptions<T> = {},
): Promise<ExtensionState<T>> {
  const problem = namespaceProblem(namespace);
  if (problem) throw new StateError('invalidNamespace', `"${String(namespace)}" is not a state namespace: ${problem}.`);
  let migrations: StateMigration[];
  try {
    migrations = orderedMigrations(options.migrations ?? [], namespace);
  } catch (error) {
    throw toStateError(error);
  }
  const target = options.version ?? migrations.at(-1)?.version ?? 0;
  if (!Number.isInteger(target) || target < 0) {
    throw new StateError('migrationFailed', `The version of "${namespace}" must be a whole number from 0 up.`);
  }
  const state = new ExtensionState<T>(endpoint, namespace, options.schema, () =>
    migrate(endpoint, namespace, target, migrations, options.schema),
  );
  try {
    await state.ready();
  } catch (error) {
    state.dispose();
    throw error;
  }
  return state;
}

/** A namespace of the workspace state, as another extension holds it (src/api/lifeline.d.ts `LifelineState`). */
export class ExtensionState<T> {
  private readonly listeners = new Set<(change: StateChange) => void>();
  private readonly subscription: Disposable;
  private migrated: Promise<number> | undefined;
  private versionValue = 0;
  private disposed = false;

  constructor(
    private readonly endpoint: StateEndpoint,
    readonly namespace: string,
    private readonly schema: StateSchema<T> | undefined,
    private readonly runMigrations: () => Promise<number>,
  ) {
    this.subscription = endpoint.onDidNotice((body) => {
      const notice = stateNoticeSchema.safeParse(body);
      if (!notice.success || notice.data.namespace !== namespace || this.disposed) return;
      // A restored backup may hold an older version of the namespace: migrate again before the next call.
      if (notice.data.restored) this.migrated = undefined;
      const change: StateChange = notice.data.restored ? { keys: notice.data.keys, restored: true } : { keys: notice.data.keys };
      for (const listener of this.listeners) listener(change);
    });
  }

  /** The namespace's schema version, once open. */
  get version(): number {
    return this.versionValue;
  }

  /** Resolves once the stored data is at the expected version (migrating it first if need be). */
  ready(): Promise<number> {
    this.migrated ??= this.runMigrations().then(
      (version) => (this.versionValue = version),
      (error: unknown) => {
        this.migrated = undefined;
        throw toStateError(error);
      },
    );
    return this.migrated;
  }

  async get(key: string): Promise<T | undefined> {
    checkKey(key);
    const reply = (await this.call({ op: 'get', namespace: this.namespace, key })) as StateReplies['get'];
    if (!reply.found) return undefined;
    if (!this.schema) return reply.value as T;
    const parsed = this.schema.safeParse(reply.value);
    if (!parsed.success) {
      throw new StateError(
        'invalidValue',
        `The stored value of "${this.namespace}/${key}" does not match the schema: ${parsed.error.message}`,
      );
    }
    return parsed.data;
  }

  async has(key: string): Promise<boolean> {
    checkKey(key);
    return ((await this.call({ op: 'get', namespace: this.namespace, key })) as StateReplies['get']).found;
  }

  /** The namespace's keys, sorted. */
  async keys(): Promise<string[]> {
    return [...((await this.call({ op: 'keys', namespace: this.namespace })) as StateReplies['keys'])];
  }

  /** Resolves once the value is on disk in the holder's journal. */
  set(key: string, value: T): Promise<void> {
    return this.batch([{ key, value }]);
  }

  delete(key: string): Promise<void> {
    return this.batch([{ key, delete: true }]);
  }

  /** Several keys, all or none, also across a crash; resolves once on disk. */
  async batch(
    operations: readonly ({ readonly key: string; readonly value: T } | { readonly key: string; readonly delete: true })[],
  ): Promise<void> {
    if (operations.length === 0) return;
    const checked: StateWriteOperation[] = operations.map((operation) => {
      checkKey(operation.key);
      if ('delete' in operation && operation.delete === true) return { key: operation.key, delete: true };
      return { key: operation.key, value: checkValue(this.namespace, operation.key, (operation as { value: unknown }).value, this.schema) };
    });
    await this.call({ op: 'write', namespace: this.namespace, operations: checked });
  }

  /** Fires after each change of this namespace, from any window (only this namespace's). */
  onDidChange(listener: (change: StateChange) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Stops the events; later calls fail with `closed`. */
  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
    this.subscription.dispose();
  }

  private async call(request: StateRequest): Promise<unknown> {
    if (this.disposed) throw new StateError('closed', `The state namespace "${this.namespace}" was disposed.`);
    await this.ready();
    return send(this.endpoint, request);
  }
}

async function send(endpoint: StateEndpoint, request: StateRequest): Promise<unknown> {
  // A line past the socket's limit would close the connection, and the resend would close it again.
  if (JSON.stringify(request).length > MAX_REQUEST_CHARS) {
    throw new StateError(
      'tooLarge',
      `A state request carries at most ${MAX_REQUEST_CHARS} characters of JSON; write fewer or smaller values.`,
    );
  }
  try {
    return await endpoint.request(request);
  } catch (error) {
    throw toStateError(error);
  }
}

function checkKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new StateError('invalidKey', `"${String(key)}" is not a key: ${problem}.`);
}

/** The value as it will be stored: the schema's output, and JSON. */
function checkValue<T>(namespace: string, key: string, value: unknown, schema: StateSchema<T> | undefined): unknown {
  let checked = value;
  if (schema) {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new StateError('invalidValue', `The value for "${namespace}/${key}" does not match the schema: ${parsed.error.message}`);
    }
    checked = parsed.data;
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(checked);
  } catch (error) {
    throw new StateError('invalidValue', `The value for "${namespace}/${key}" is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (json === undefined) {
    throw new StateError('invalidValue', `The value for "${namespace}/${key}" is not JSON (delete a key to remove it).`);
  }
  // What the holder stores and returns: the value as JSON reads it back, the same in every window.
  return JSON.parse(json) as unknown;
}

/**
 * Brings the namespace to `target`, one step at a time: reads the stored version and data, runs
 * the step here, and asks the holder to commit it only if the version is still the one read.
 * When another window migrated first, reads again. Returns the version reached.
 */
async function migrate<T>(
  endpoint: StateEndpoint,
  namespace: string,
  target: number,
  migrations: readonly StateMigration[],
  schema: StateSchema<T> | undefined,
): Promise<number> {
  for (let round = 0; round < MAX_MIGRATION_ROUNDS; round++) {
    const { version, empty } = (await send(endpoint, { op: 'version', namespace })) as StateReplies['version'];
    if (version > target) {
      throw new StateError(
        'unsupportedVersion',
        `Namespace "${namespace}" holds schema version ${version}, newer than this code's ${target}. Update the extension that owns it.`,
      );
    }
    if (version === target) return version;
    const step = empty ? undefined : migrations.find((migration) => migration.version > version && migration.version <= target);
    // A fresh namespace, or no step left below the target: only the version moves.
    let operations: StateWriteOperation[] = [];
    const toVersion = step?.version ?? target;
    if (step) {
      const entries = new Map((await send(endpoint, { op: 'entries', namespace })) as StateReplies['entries']);
      let staged: StagedChange[];
      try {
        staged = await stageMigration(
          step,
          (key) => structuredClone(entries.get(key)),
          () => [...entries.keys()].sort(),
        );
        operations = staged.map((change) => {
          if ('deleted' in change) return { key: change.key, delete: true };
          checkKey(change.key);
          // Only the last step's values are of the schema this code knows.
          return { key: change.key, value: checkValue(namespace, change.key, change.value, step.version === target ? schema : undefined) };
        });
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        throw new StateError(
          'migrationFailed',
          `Migrating "${namespace}" from version ${version} to ${step.version} failed: ${detail}. Nothing was changed.`,
          { cause: error },
        );
      }
    }
    await send(endpoint, { op: 'migrate', namespace, fromVersion: version, toVersion, operations, description: step?.description });
  }
  throw new StateError('migrationFailed', `Migrating "${namespace}" kept being overtaken by another window; try again.`);
}
