import { StorageError } from './errors';

/** One step of a namespace's schema history, run when the stored version is below `version`. */
export interface StateMigration {
  readonly version: number;
  readonly description?: string;
  migrate(context: MigrationContext): void | Promise<void>;
}

/** What a migration sees: the namespace, with its changes staged until the step succeeds. */
export interface MigrationContext {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  delete(key: string): void;
  keys(): string[];
}

export interface MigrationInfo {
  readonly store: string;
  readonly namespace: string;
  readonly fromVersion: number;
  readonly toVersion: number;
}

export type StagedChange = { readonly key: string; readonly value: unknown } | { readonly key: string; readonly deleted: true };

/**
 * Runs one migration against a staged overlay. Nothing reaches the store unless it returns
 * normally: the caller then commits every staged change and the new version in one batch, so a
 * failed step leaves the namespace exactly as it was (that is the rollback), also after a crash.
 */
export async function stageMigration(
  migration: StateMigration,
  read: (key: string) => unknown,
  keys: () => string[],
): Promise<StagedChange[]> {
  const staged = new Map<string, { value: unknown } | { deleted: true }>();
  const context: MigrationContext = {
    get: (key) => {
      const change = staged.get(key);
      if (change) return 'deleted' in change ? undefined : structuredClone(change.value);
      return read(key);
    },
    set: (key, value) => {
      if (value === undefined) {
        throw new StorageError('validationFailed', `Migration ${migration.version} set "${key}" to undefined; use delete.`);
      }
      staged.set(key, { value: structuredClone(value) });
    },
    delete: (key) => {
      staged.set(key, { deleted: true });
    },
    keys: () => {
      const all = new Set(keys());
      for (const [key, change] of staged) {
        if ('deleted' in change) all.delete(key);
        else all.add(key);
      }
      return [...all].sort();
    },
  };
  await migration.migrate(context);
  return [...staged].map(([key, change]) => ('deleted' in change ? { key, deleted: true as const } : { key, value: change.value }));
}

export function orderedMigrations(migrations: readonly StateMigration[], namespace: string): StateMigration[] {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let index = 0; index < sorted.length; index++) {
    const version = (sorted[index] as StateMigration).version;
    if (!Number.isInteger(version) || version < 1 || (index > 0 && version === sorted[index - 1]?.version)) {
      throw new StorageError('migrationFailed', `The migrations of namespace "${namespace}" must have distinct whole versions from 1 up.`);
    }
  }
  return sorted;
}
