import type { StateStore } from '../storage/stateStore';
import { StateError, toStateError } from './stateErrors';
import type { StateReplies, StateRequest } from './stateProtocol';
import { stateRequestSchema } from './stateProtocol';

/**
 * Checks a state request. `body` is untrusted (it may come from a client's socket): anything that
 * is not a valid request is refused with `invalidRequest` before any store is touched.
 */
export function parseStateRequest(body: unknown): StateRequest {
  const parsed = stateRequestSchema.safeParse(body);
  if (!parsed.success) {
    throw new StateError('invalidRequest', `Not a state request: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  }
  return parsed.data;
}

/** Answers one checked state request against the store this process holds. */
export async function answerStateRequest(store: StateStore, request: StateRequest): Promise<StateReplies[StateRequest['op']]> {
  try {
    return await apply(store, request);
  } catch (error) {
    throw toStateError(error);
  }
}

async function apply(store: StateStore, request: StateRequest): Promise<StateReplies[StateRequest['op']]> {
  const { namespace } = request;
  switch (request.op) {
    case 'get': {
      if (!store.exists(namespace, request.key)) return { found: false } satisfies StateReplies['get'];
      return { found: true, value: store.get(namespace, request.key) } satisfies StateReplies['get'];
    }
    case 'keys':
      return store.keys(namespace) satisfies StateReplies['keys'];
    case 'entries':
      return store.entries(namespace) satisfies StateReplies['entries'];
    case 'version':
      return { version: store.version(namespace), empty: store.keys(namespace).length === 0 } satisfies StateReplies['version'];
    case 'write':
      await store.batch(request.operations.map((operation) => ({ ...operation, namespace })));
      return null satisfies StateReplies['write'];
    case 'migrate': {
      const changes = request.operations.map((operation) =>
        'delete' in operation ? { key: operation.key, deleted: true as const } : { key: operation.key, value: operation.value },
      );
      const applied = await store.migrateStep(namespace, request.fromVersion, request.toVersion, changes, request.description);
      return { applied, version: store.version(namespace) } satisfies StateReplies['migrate'];
    }
  }
}
