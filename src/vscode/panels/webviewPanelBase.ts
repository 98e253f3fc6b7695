import type * as vscode from 'vscode';
import type { z } from 'zod';
import type { Logger } from '../../core/logger';
import type { ViewStateFiles } from '../../core/storage/viewStateFiles';
import type { PanelMessage, ReadyCommand, StateChangedCommand } from '../../shared/panelProtocol';
import type { KeptPanel } from './panelKeeper';
import { PanelKeeper } from './panelKeeper';
import { webviewHtml } from './webviewHtml';

/** What a kind of panel is: fixed in its subclass's file. */
export interface PanelDefinition<S, C extends PanelMessage> {
  readonly viewType: string;
  readonly title: string;
  /** How the log and the user name the panel ("the Queue dashboard"). */
  readonly description: string;
  /**
   * The webview's folder, media/<page>/main.ts, bundled as dist/webviews/<page>.js (esbuild.mjs);
   * also the key of its saved view state and the scope of its log lines.
   */
  readonly page: string;
  readonly stateSchema: z.ZodType<S>;
  readonly defaultState: S;
  /** Every message the webview may send; anything else is refused and logged. */
  readonly commandSchema: z.ZodType<C>;
}

/** What every panel needs from the extension, given when it is registered. */
export interface PanelServices {
  readonly extensionUri: vscode.Uri;
  readonly logger: Logger;
  /** Lifeline's own copy of the view state: undefined until the workspace's storage folder is open, or without one. */
  readonly viewState: () => ViewStateFiles | undefined;
}

/** A registered kind of panel: at most one of it is open at a time. */
export interface RegisteredPanel<P> extends vscode.Disposable {
  /** Reveals the panel, or opens it (in place of a tab an earlier extension host left). */
  show(): P | undefined;
  /** Starts replacing tabs no live panel backs; once Lifeline's saved view state can be read. */
  recoverTabs(): void;
  readonly current: P | undefined;
}

/**
 * Registers a kind of panel: its serializer (which must be registered as activation starts, for a
 * restored panel to find it) and the keeper that holds its single instance and keeps it live.
 */
export function registerPanel<S, P extends KeptPanel<S>>(
  definition: PanelDefinition<S, PanelMessage>,
  services: PanelServices,
  create: (panel: vscode.WebviewPanel, state: S | undefined) => P,
): RegisteredPanel<P> {
  const keeper = new PanelKeeper<S, P>({
    viewType: definition.viewType,
    title: definition.title,
    description: definition.description,
    schema: definition.stateSchema,
    extensionUri: services.extensionUri,
    logger: services.logger,
    create,
  });
  const serializer = keeper.registerSerializer();
  let disposed = false;
  return {
    show: () => (disposed ? undefined : keeper.show()),
    recoverTabs: () => keeper.recoverTabs(),
    get current() {
      return keeper.current;
    },
    dispose: () => {
      disposed = true;
      serializer.dispose();
      keeper.dispose();
    },
  };
}

/** A panel's own commands and requests: the base handles `ready` and `stateChanged` alike for all. */
export type OwnCommand<C extends PanelMessage> = Exclude<C, { readonly type: (ReadyCommand | StateChangedCommand<unknown>)['type'] }>;

/**
 * A webview panel of Lifeline (docs/panels.md): its page, the ready handshake (nothing is
 * posted before the page says `ready`, and the keeper re-creates a page that does not), the view
 * state (restored by the serializer, else from Lifeline's copy, saved on every change), the
 * validation of every inbound message, throttled posting, and disposal. A subclass handles its
 * own commands and says what it posts.
 *
 * @typeParam S the view state; C what the webview sends; H what the host posts.
 */
export abstract class WebviewPanelBase<S, C extends PanelMessage, H extends PanelMessage> implements KeptPanel<S> {
  protected readonly logger: Logger;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly stateLoaded: Promise<void>;
  private state: S;
  private isReady = false;
  private disposed = false;
  private postTimer: NodeJS.Timeout | undefined;
  private lastPostAt = 0;

  protected constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly definition: PanelDefinition<S, C>,
    private readonly services: PanelServices,
    /** Undefined: the state Lifeline saved last, else the default. */
    initialState: S | undefined,
  ) {
    this.logger = services.logger;
    this.state = initialState ?? definition.defaultState;
    this.stateLoaded = initialState ? Promise.resolve() : this.loadSavedState();
    panel.webview.html = webviewHtml(panel.webview, services.extensionUri, definition.page, definition.title);
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(panel.webview.onDidReceiveMessage((message: unknown) => void this.receive(message)));
  }

  /** The view state a re-created panel starts from. */
  get viewState(): S {
    return this.state;
  }

  /** Whether the page has said it is ready (posts before that are dropped: the page would miss them). */
  protected get ready(): boolean {
    return this.isReady;
  }

  /** The page said it is ready, and the view state is loaded: post what it shows first. */
  protected abstract onReady(): Promise<void> | void;

  /** A validated command or request of this panel's own. */
  protected abstract onCommand(command: OwnCommand<C>): Promise<void> | void;

  /** Disposed with the panel, in the reverse order of registration. */
  protected register<T extends vscode.Disposable>(disposable: T): T {
    if (this.disposed) disposable.dispose();
    else this.disposables.push(disposable);
    return disposable;
  }

  /** Posts to the page once it is ready; before that (or once disposed) the message is dropped. */
  protected post(message: H): Thenable<boolean> {
    return this.isReady && !this.disposed ? this.panel.webview.postMessage(message) : Promise.resolve(false);
  }

  /**
   * Posts what `make` returns now, or once `intervalMs` since the last such post has passed: for
   * a stream of changes, of which only the latest matters. Nothing before the page is ready.
   */
  protected postLatest(make: () => H, intervalMs: number): void {
    if (!this.isReady || this.disposed || this.postTimer) return;
    const wait = Math.max(0, this.lastPostAt + intervalMs - Date.now());
    this.postTimer = setTimeout(() => {
      this.postTimer = undefined;
      this.lastPostAt = Date.now();
      void this.post(make());
    }, wait);
  }

  private async loadSavedState(): Promise<void> {
    const saved = await this.services.viewState()?.load(this.definition.page, this.definition.stateSchema);
    if (saved) this.state = saved;
  }

  private async receive(raw: unknown): Promise<void> {
    const { page, commandSchema } = this.definition;
    const parsed = commandSchema.safeParse(raw);
    if (!parsed.success) {
      this.logger.warn(`[${page}] ignored an invalid message from the webview: ${parsed.error.issues[0]?.message ?? 'unknown shape'}`);
      return;
    }
    const message = parsed.data;
    try {
      if (message.type === 'ready') {
        await this.stateLoaded;
        this.isReady = true;
        await this.onReady();
      } else if (message.type === 'stateChanged') {
        // The panel's command schema validates the state with its state schema (stateChangedCommandSchema).
        this.state = (message as unknown as StateChangedCommand<S>).state;
        this.services.viewState()?.save(page, this.state);
      } else {
        await this.onCommand(message as OwnCommand<C>);
      }
    } catch (error) {
      this.logger.error(`[${page}] handling a ${message.type} message failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.postTimer);
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
