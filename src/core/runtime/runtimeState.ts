import type { RecordCipher } from '../storage/cipher';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { QueueSession } from '../session/queueSession';
import { NOT_HOLDER, ServiceError } from '../session/sessionServices';
import { StateError } from '../state/stateErrors';
import { answerStateRequest, parseStateRequest } from '../state/stateHost';
import { STATE_SERVICE } from '../state/stateProtocol';
import type { StateNotice } from '../state/stateProtocol';
import type { MigrationInfo } from '../storage/stateMigrations';
import { StateStore } from '../storage/stateStore';
import type { StorageEvent } from '../storage/storeEvents';
import type { RuntimeReport } from './runtimeReports';

export interface RuntimeStateOptions {
  /** `<storage>/state`: the store's files are `state.snapshot`, `state.<generation>.journal`, … */
  readonly directory: string;
  readonly logger: Logger;
  /** @default the system clock */
  readonly clock?: Clock;
  readonly report: (report: RuntimeReport) => void;
  /** The state part of the newest good backup, for a store whose snapshot is damaged. */
  readonly loadFallback?: () => Promise<Uint8Array | undefined>;
  /** What the store's files are sealed with (encryption at rest), read at each open. @default plain */
  readonly cipher?: () => RecordCipher | undefined;
  /** The automatic backup before a namespace's data is migrated (the live stores, as they are before it); awaited. */
  readonly beforeMigrate?: (info: MigrationInfo) => Promise<void>;
}

/**
 * The workspace's state store (namespaces of other extensions: docs/state-api.md), open in the
 * process that holds the queue (it has one writer, like the queue): opened once this runtime
 * becomes the holder, closed when it stops being one or closes. It answers the `state` service's
 * requests, of this process and of clients over the queue's socket, and announces each change
 * to every window.
 */
export class RuntimeState {
  private storeValue: StateStore | undefined;
  private queue: QueueSession | undefined;
  /** Opens and closes run one after another: a role that flips quickly never overlaps them. */
  private transition: Promise<void> = Promise.resolve();
  private openFailure: string | undefined;
  private closed = false;
  private subscriptions: { dispose(): void }[] = [];
  private markBound: () => void = () => undefined;
  /** Requests that arrive before the runtime bound the queue (a client asks as soon as the holder listens) wait for it. */
  private readonly bound = new Promise<void>((resolve) => (this.markBound = resolve));

  constructor(private readonly options: RuntimeStateOptions) {}

  /** The open store, or undefined (another process holds the queue, it is opening, or it failed). */
  get store(): StateStore | undefined {
    return this.storeValue;
  }

  /** Starts following the queue's role. Separate from the constructor: the session needs the handler before it opens. */
  bind(queue: QueueSession): void {
    this.queue = queue;
    this.subscriptions.push(queue.onDidChangeRole(() => this.settle()));
    this.settle();
    this.markBound();
  }

  /** Resolves with the store once open (undefined when this runtime does not hold the queue). */
  async whenOpen(): Promise<StateStore | undefined> {
    await this.transition;
    return this.storeValue;
  }

  /** The `state` service's handler (QueueSessionOptions.services). */
  readonly handle = async (body: unknown): Promise<unknown> => {
    const request = parseStateRequest(body);
    if (!this.closed) await this.bound;
    const store = await this.whenOpen();
    if (!store || this.closed || this.queue?.role !== 'holder') {
      // Nothing applied: the session sends it to the next holder.
      if (this.closed || this.queue?.role !== 'holder' || !this.openFailure) {
        throw new ServiceError(NOT_HOLDER, 'This process does not hold the workspace state now.');
      }
      throw new StateError('unavailable', `The workspace state store could not be opened: ${this.openFailure}`);
    }
    // The fence (like the queue's FencedQueueLog): a holder whose lease another process took over
    // before its heartbeat noticed writes nothing; the request goes to the new holder.
    if ((request.op === 'write' || request.op === 'migrate') && !this.queue.holdsLeaseNow()) {
      throw new ServiceError(NOT_HOLDER, 'This process no longer holds the workspace lease.');
    }
    return answerStateRequest(store, request);
  };

  private settle(): void {
    this.transition = this.transition
      .then(async () => {
        for (;;) {
          const wanted = !this.closed && this.openFailure === undefined && this.queue?.role === 'holder';
          if (wanted && !this.storeValue) await this.open();
          else if (!wanted && this.storeValue) await this.shut();
          else return;
        }
      })
      .catch((error: unknown) => this.options.logger.error(`[state] ${error instanceof Error ? error.message : String(error)}`));
  }

  private async open(): Promise<void> {
    const { logger, report } = this.options;
    let store: StateStore;
    try {
      store = await StateStore.open({
        directory: this.options.directory,
        name: 'state',
        logger,
        clock: this.options.clock,
        loadFallback: this.options.loadFallback,
        cipher: this.options.cipher?.(),
        beforeMigration: this.options.beforeMigrate,
        onEvent: (event) => {
          logStateStorageEvent(event, logger);
          report({ type: 'stateStorage', event });
        },
      });
    } catch (error) {
      this.openFailure = error instanceof Error ? error.message : String(error);
      logger.error(`[state] could not open the workspace state store: ${this.openFailure}`);
      report({ type: 'stateOpenFailed', message: this.openFailure });
      return;
    }
    this.storeValue = store;
    this.subscriptions.push(
      store.onDidChange((event) => {
        const notice: StateNotice = { namespace: event.namespace, keys: [...event.keys], ...(event.restored ? { restored: true } : {}) };
        this.queue?.notice(STATE_SERVICE, notice);
      }),
    );
    logger.info(`[state] opened the workspace state store (sequence ${store.durable?.sequence ?? 0})`);
  }

  private async shut(): Promise<void> {
    const store = this.storeValue;
    this.storeValue = undefined;
    await store?.close().catch((error: unknown) => this.options.logger.warn(`[state] closing: ${String(error)}`));
  }

  /** Closes the store for good: writes in flight finish first. */
  async close(): Promise<void> {
    this.closed = true;
    this.settle();
    await this.transition;
    while (this.subscriptions.length) this.subscriptions.pop()?.dispose();
  }
}

/** Storage events of the state store, logged always; a person is told through the report. */
function logStateStorageEvent(event: StorageEvent, logger: Logger): void {
  if (event.type === 'compacted') return;
  const serious = event.type === 'dataLost' || event.type === 'stateLost' || event.type === 'quarantined';
  const line = `[state] storage: ${event.type} ${JSON.stringify({ ...event, type: undefined, error: undefined })}`;
  if (serious) logger.error(line);
  else logger.warn(line);
}
