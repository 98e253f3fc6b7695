/**
 * A compile-time test, run by `npm run check-types`: the implementation of the extension API
 * (src/extension.ts and what it returns) satisfies the published declaration, src/api/lifeline.d.ts.
 * A change to either that breaks a caller fails the type check here.
 */
import type { z } from 'zod';
import type * as Published from '../../src/api/lifeline';
import type { Job, QueueCommand } from '../../src/core/queue/jobModel';
import type { StateNamespaceOptions } from '../../src/core/state/extensionState';
import type { StateErrorReason } from '../../src/core/state/stateErrors';
import type { StateMigration } from '../../src/core/storage/stateMigrations';
import type { LifelineApi } from '../../src/extension';

type Assert<T extends true> = T;
type IsAssignable<A, B> = [A] extends [B] ? true : false;
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** What `activate()` returns is what the declaration promises (every member, recursively). */
export type ApiConforms = Assert<IsAssignable<LifelineApi, Published.LifelineApi>>;
export type SameApiVersion = Assert<Equal<LifelineApi['apiVersion'], Published.LifelineApi['apiVersion']>>;

// Method parameters are compared both ways by TypeScript: what a caller may pass by the
// declaration must be what the implementation accepts, checked one way here.
export type CommandsAccepted = Assert<IsAssignable<Published.LifelineQueueCommand, QueueCommand>>;
export type JobsAccepted = Assert<IsAssignable<Job, Published.LifelineJob>>;
export type StateOptionsAccepted = Assert<
  IsAssignable<Published.LifelineStateOptions<{ n: number }>, StateNamespaceOptions<{ n: number }>>
>;
export type MigrationsAccepted = Assert<IsAssignable<Published.LifelineStateMigration, StateMigration>>;
/** A zod schema is a schema for the API. */
export type ZodSchemasFit = Assert<IsAssignable<z.ZodType<{ n: number }>, Published.LifelineStateSchema<{ n: number }>>>;
/** Every reason a caller may see is published, and nothing more. */
export type SameErrorReasons = Assert<Equal<Published.LifelineStateErrorReason, StateErrorReason>>;
