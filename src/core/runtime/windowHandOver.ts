import { z } from 'zod';
import type { Logger } from '../logger';
import type { ServiceHandler } from '../session/sessionServices';
import { ServiceError } from '../session/sessionServices';

/**
 * A window that opens as a client asks the holder whether it still has a window of its own.
 *
 * A remote extension host (code-server, Remote-SSH, a tunnel) outlives its window when the window
 * goes without saying so: a browser that crashed or was killed, a reload whose "terminate" never
 * reached the server (seen on VS Code 1.139). The server keeps that host running, unseen, for its
 * reconnection grace time (three hours by default), and it goes on holding the queue: the window
 * the user does see is then only a client, and its History panel says the history is open "in the
 * other window", which no one can open. So a window that connects as a client asks; a holder
 * whose own window does not answer within {@link WINDOW_ANSWER_MS} hands the queue over (it
 * closes its workspace as a closing window would: running jobs stay with their supervisors) and
 * the asking window takes the lease. A holder whose window answers keeps the queue, as before.
 * Holders without a window (`lifeline`, `lifeline mcp`) have no presence and keep it too.
 */
export const WINDOW_SERVICE = 'window';

/** Long enough for a live but busy window to answer, short next to a person waiting for a panel. */
export const WINDOW_ANSWER_MS = 5_000;

const windowRequestSchema = z.object({ op: z.literal('clientWindowOpened') }).strict();
export type WindowRequest = z.infer<typeof windowRequestSchema>;

export interface WindowReply {
  /** The holder gives the queue up: the asking window takes the lease when it is released. */
  readonly handingOver: boolean;
}

/** A holder's window, as the extension sees it. */
export interface WindowPresence {
  /** Resolves once this process's window answers a round trip; stays pending while it has none. */
  answers(): Promise<void>;
  /** Gives the queue up (closes the workspace); called after the reply is sent. */
  handOver(): void;
}

export function windowServiceHandler(
  presence: WindowPresence | undefined,
  logger: Logger,
  answerMs: number = WINDOW_ANSWER_MS,
): ServiceHandler {
  let handingOver = false;
  return async (body: unknown): Promise<WindowReply> => {
    if (!windowRequestSchema.safeParse(body).success) {
      throw new ServiceError('invalidRequest', 'A window request is { "op": "clientWindowOpened" }.');
    }
    if (!presence) return { handingOver: false };
    if (handingOver) return { handingOver: true };
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      presence.answers().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), answerMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (answered) return { handingOver: false };
    handingOver = true;
    logger.warn(
      `[window] another window of this workspace opened and this window did not answer within ${answerMs} ms: ` +
        'it is gone (its extension host lives on unseen), so the queue is handed to the new window',
    );
    // After the reply has gone out: the workspace closes and releases the lease.
    setImmediate(() => presence.handOver());
    return { handingOver: true };
  };
}

/**
 * A window that opened as a client asks the holder (once). Any failure (a holder of an older
 * Lifeline without the service, the connection gone) leaves things as they are.
 */
export async function askHolderForItsWindow(request: (service: string, body: unknown) => Promise<unknown>, logger: Logger): Promise<void> {
  try {
    const reply = (await request(WINDOW_SERVICE, { op: 'clientWindowOpened' } satisfies WindowRequest)) as Partial<WindowReply>;
    if (reply?.handingOver === true) logger.info('[window] the holder has no window any more: it hands the queue to this window');
  } catch (error) {
    logger.debug(`[window] the holder did not say whether it has a window: ${error instanceof Error ? error.message : String(error)}`);
  }
}
