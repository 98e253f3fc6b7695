import { randomUUID } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { NOT_HOLDER, ServiceError } from '../session/sessionServices';
import type { BackupManager } from '../storage/backupManager';
import type { WorkspaceRuntime } from './workspaceRuntime';

/**
 * The `backups` service of the queue's socket (docs/backups.md, "From any window"): the writes
 * of the backup commands (create, restore, delete, import) run in the process that holds the
 * queue, whichever window they are asked in. Listing, verifying and exporting only read the
 * backups folder, so every window does those itself.
 */
export const BACKUP_SERVICE = 'backups';

const idSchema = z.string().regex(/^[\w.-]+$/, 'a backup id is a file name');

const tokenSchema = z.string().regex(/^[\w-]{8,64}$/, 'a restore token');

/** What a window asks for (WorkspaceRuntime.backups). */
export type BackupCommand =
  | { readonly op: 'create'; readonly includeArchive?: boolean }
  | { readonly op: 'restore'; readonly id: string }
  | { readonly op: 'delete'; readonly id: string }
  | { readonly op: 'import'; readonly path: string };

/**
 * A request over the socket, as the holder validates it (the body may come from any client). A
 * restore closes and reopens the queue's socket, which would lose its own reply, and a request
 * sent again after a dropped connection must not restore twice: so a client starts it under a
 * token (`restore`, answered at once, the same token never starting a second one) and then asks
 * for its outcome (`restoreResult`), again after a reconnect if need be.
 */
export const backupRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('create'), includeArchive: z.boolean().optional() }).strict(),
  z.object({ op: z.literal('restore'), id: idSchema, token: tokenSchema }).strict(),
  z.object({ op: z.literal('restoreResult'), token: tokenSchema }).strict(),
  z.object({ op: z.literal('delete'), id: idSchema }).strict(),
  z.object({ op: z.literal('import'), path: z.string().min(1).max(4096).refine(isAbsolute, 'an absolute path of this machine') }).strict(),
]);
export type BackupRequest = z.infer<typeof backupRequestSchema>;

/** What each request answers, JSON over the socket. */
export interface BackupReplies {
  create: { readonly id: string };
  restore: { readonly safetyBackup: string; readonly keptRunning: readonly string[]; readonly interrupted: readonly string[] };
  delete: { readonly id: string };
  import: { readonly id: string };
}

/** What the holder does for each request (WorkspaceRuntime's own methods). */
export interface BackupActions {
  readonly isHolder: () => boolean;
  readonly create: (includeArchive: boolean) => Promise<BackupReplies['create']>;
  readonly restore: (id: string) => Promise<BackupReplies['restore']>;
  readonly delete: (id: string) => Promise<BackupReplies['delete']>;
  readonly import: (path: string) => Promise<BackupReplies['import']>;
}

/** Restores started over the socket, by token, kept for their outcome: the newest few. */
const KEPT_RESTORES = 16;

/**
 * The service's handler: checks the body, then runs it here, or says this process does not hold
 * the queue (the session then asks the next holder).
 */
export function backupServiceHandler(actions: () => BackupActions | undefined): (body: unknown) => Promise<unknown> {
  const restores = new Map<string, Promise<BackupReplies['restore']>>();
  return async (body) => {
    const parsed = backupRequestSchema.safeParse(body);
    if (!parsed.success) {
      throw new ServiceError('invalidRequest', `Not a backup request: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
    }
    const request = parsed.data;
    const current = actions();
    if (request.op === 'restoreResult') {
      const started = restores.get(request.token);
      if (!started) {
        if (!current?.isHolder()) throw new ServiceError(NOT_HOLDER, 'This process does not hold the queue now.');
        throw new ServiceError('unknownRestore', 'No restore was started here under this token (the window that held the queue closed?).');
      }
      return started;
    }
    if (!current?.isHolder()) throw new ServiceError(NOT_HOLDER, 'This process does not hold the queue now.');
    if (request.op !== 'restore') return runBackupCommand(current, request);
    if (!restores.has(request.token)) {
      // After this reply is on its way: the restore closes the socket it goes out on.
      const started = new Promise((resolve) => setTimeout(resolve, 0)).then(() => current.restore(request.id));
      started.catch(() => undefined);
      restores.set(request.token, started);
      for (const token of [...restores.keys()].slice(0, Math.max(0, restores.size - KEPT_RESTORES))) restores.delete(token);
    }
    return { token: request.token };
  };
}

/** Runs a command in the process that holds the queue. */
export function runBackupCommand(actions: BackupActions, command: BackupCommand): Promise<BackupReplies[BackupCommand['op']]> {
  switch (command.op) {
    case 'create':
      return actions.create(command.includeArchive ?? false);
    case 'restore':
      return actions.restore(command.id);
    case 'delete':
      return actions.delete(command.id);
    case 'import':
      return actions.import(command.path);
  }
}

/** Sends a command to the holder over the queue's socket (a restore as the two steps above). */
export async function requestBackupCommand(
  request: (body: unknown) => Promise<unknown>,
  command: BackupCommand,
): Promise<BackupReplies[BackupCommand['op']]> {
  if (command.op !== 'restore') return (await request(command)) as BackupReplies[BackupCommand['op']];
  const token = randomUUID();
  await request({ op: 'restore', id: command.id, token });
  return (await request({ op: 'restoreResult', token })) as BackupReplies['restore'];
}

/** What the backups service runs in `runtime` (its own public methods). */
export function runtimeBackupActions(runtime: WorkspaceRuntime): BackupActions {
  const manager = (): BackupManager => {
    const backups = runtime.services.backups;
    if (!backups) throw new Error('The runtime has no backups service.');
    return backups.manager;
  };
  return {
    isHolder: () => runtime.queue.role === 'holder',
    create: async (includeArchive) => ({ id: (await runtime.createBackup({ includeArchive })).id }),
    restore: async (id) => {
      const result = await runtime.restoreBackup(id);
      return {
        safetyBackup: result.safetyBackup.id,
        keptRunning: result.keptRunning,
        interrupted: result.interrupted.map((job) => job.id),
      };
    },
    delete: async (id) => {
      await manager().delete(id);
      return { id };
    },
    import: async (path) => {
      const info = await manager().importFile(path);
      // Imported as it was: with encryption on, a plain backup is sealed like the others.
      await runtime.encryption.sealImportedBackup(info.path);
      return { id: info.id };
    },
  };
}
