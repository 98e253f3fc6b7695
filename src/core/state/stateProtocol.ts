import { z } from 'zod';
import { RESERVED_KEY_PREFIX } from '../storage/stateStore';

/** The service name of state requests on the queue's socket (queueProtocol.ts `request`). */
export const STATE_SERVICE = 'state';

/**
 * Namespace names: an extension's id (`publisher.name`) or any dotted name of letters, digits,
 * `-` and `_`. `lifeline.` and the reserved key prefix are Lifeline's own.
 */
export const NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9][A-Za-z0-9_-]*)*$/;
export const MAX_NAMESPACE_CHARS = 128;
export const MAX_KEY_CHARS = 1024;
/** A request's JSON, well below the socket's command limit (a bigger line would close the connection). */
export const MAX_REQUEST_CHARS = 4 * 1024 * 1024;
export const MAX_OPERATIONS = 10_000;
const RESERVED_NAMESPACE_PREFIXES = ['lifeline.', RESERVED_KEY_PREFIX.replace(/\.$/, '')];

/** Why `name` is not a namespace name, or undefined when it is one. */
export function namespaceProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'a namespace is a string';
  if (name.length === 0 || name.length > MAX_NAMESPACE_CHARS) return `a namespace has 1 to ${MAX_NAMESPACE_CHARS} characters`;
  if (!NAMESPACE_PATTERN.test(name)) return 'a namespace is dotted words of letters, digits, "-" and "_" (an extension id fits)';
  const lower = name.toLowerCase();
  if (RESERVED_NAMESPACE_PREFIXES.some((prefix) => lower === prefix.replace(/\.$/, '') || lower.startsWith(prefix))) {
    return `namespaces starting with ${RESERVED_NAMESPACE_PREFIXES.map((prefix) => `"${prefix}"`).join(' or ')} are Lifeline's own`;
  }
  return undefined;
}

/** Why `key` is not a key, or undefined when it is one. */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return 'a key is a string';
  if (key.length === 0 || key.length > MAX_KEY_CHARS) return `a key has 1 to ${MAX_KEY_CHARS} characters`;
  if (key.startsWith(RESERVED_KEY_PREFIX)) return `keys starting with "${RESERVED_KEY_PREFIX}" are reserved for Lifeline`;
  return undefined;
}

const namespaceSchema = z.string().superRefine((name, context) => {
  const problem = namespaceProblem(name);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});
const keySchema = z.string().superRefine((key, context) => {
  const problem = keyProblem(key);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});
const operationSchema = z.union([
  z.object({ key: keySchema, value: z.unknown() }).strict(),
  z.object({ key: keySchema, delete: z.literal(true) }).strict(),
]);
const versionSchema = z.number().int().min(0).max(1_000_000);

/** Every state request, as the holder validates it (from this process or a client's socket). */
export const stateRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('get'), namespace: namespaceSchema, key: keySchema }).strict(),
  z.object({ op: z.literal('keys'), namespace: namespaceSchema }).strict(),
  z.object({ op: z.literal('entries'), namespace: namespaceSchema }).strict(),
  z.object({ op: z.literal('version'), namespace: namespaceSchema }).strict(),
  z
    .object({ op: z.literal('write'), namespace: namespaceSchema, operations: z.array(operationSchema).min(1).max(MAX_OPERATIONS) })
    .strict(),
  z
    .object({
      op: z.literal('migrate'),
      namespace: namespaceSchema,
      fromVersion: versionSchema,
      toVersion: versionSchema.min(1),
      operations: z.array(operationSchema).max(MAX_OPERATIONS),
      description: z.string().max(1000).optional(),
    })
    .strict()
    .refine((request) => request.toVersion > request.fromVersion, 'a migration goes to a higher version'),
]);
export type StateRequest = z.infer<typeof stateRequestSchema>;
export type StateWriteOperation = z.infer<typeof operationSchema>;

/** The replies, by request. */
export interface StateReplies {
  get: { readonly found: boolean; readonly value?: unknown };
  keys: readonly string[];
  entries: readonly (readonly [string, unknown])[];
  version: { readonly version: number; readonly empty: boolean };
  write: null;
  /** `applied: false`: the stored version had moved on (another window migrated); nothing was written. */
  migrate: { readonly applied: boolean; readonly version: number };
}

/** What the holder announces after each change, to every window (and checked there). */
export const stateNoticeSchema = z.object({
  namespace: z.string(),
  keys: z.array(z.string()),
  restored: z.literal(true).optional(),
});
export type StateNotice = z.infer<typeof stateNoticeSchema>;
