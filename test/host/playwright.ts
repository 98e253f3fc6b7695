import { createRequire } from 'node:module';
import { join } from 'node:path';
import { hostDir } from './paths';

/**
 * playwright-core lives in the test host folder (.vscode-test/code-server), not in the
 * extension's dependencies, so its types are not visible here: this is the small part of its
 * API the tests use.
 */
export interface Locator {
  click(options?: { timeout?: number }): Promise<void>;
  fill(value: string, options?: { timeout?: number }): Promise<void>;
  type(value: string, options?: { delay?: number }): Promise<void>;
  press(key: string): Promise<void>;
  inputValue(options?: { timeout?: number }): Promise<string>;
  textContent(options?: { timeout?: number }): Promise<string | null>;
  innerText(options?: { timeout?: number }): Promise<string>;
  waitFor(options?: { state?: 'attached' | 'detached' | 'visible' | 'hidden'; timeout?: number }): Promise<void>;
  count(): Promise<number>;
  first(): Locator;
  last(): Locator;
  nth(index: number): Locator;
  isVisible(): Promise<boolean>;
  hover(options?: { timeout?: number }): Promise<void>;
  evaluate<R>(fn: (element: HTMLElementLike) => R): Promise<R>;
  locator(selector: string, options?: LocatorOptions): Locator;
  getAttribute(name: string): Promise<string | null>;
  allInnerTexts(): Promise<string[]>;
}
export interface LocatorOptions {
  hasText?: string | RegExp;
}
export interface HTMLElementLike {
  scrollTop: number;
  scrollHeight: number;
  textContent: string | null;
}
export interface FrameLocator {
  locator(selector: string): Locator;
  frameLocator(selector: string): FrameLocator;
}
/** A frame of the page (a webview's content frame among them); detached ones throw. */
export interface Frame {
  locator(selector: string, options?: LocatorOptions): Locator;
  /** Runs a script expression in the frame. */
  evaluate<R>(expression: string): Promise<R>;
}
export interface Keyboard {
  press(key: string): Promise<void>;
  type(text: string, options?: { delay?: number }): Promise<void>;
}
export interface Page {
  goto(url: string, options?: { waitUntil?: 'load' | 'domcontentloaded' | 'commit'; timeout?: number }): Promise<unknown>;
  exposeFunction(name: string, fn: (...args: never[]) => unknown): Promise<void>;
  locator(selector: string, options?: LocatorOptions): Locator;
  frameLocator(selector: string): FrameLocator;
  keyboard: Keyboard;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
  reload(options?: { waitUntil?: 'load' | 'domcontentloaded'; timeout?: number }): Promise<unknown>;
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
  on(event: 'framenavigated', listener: (frame: Frame) => void): void;
  frames(): Frame[];
  mainFrame(): Frame;
  waitForEvent(event: 'framenavigated', options: { predicate: (frame: Frame) => boolean; timeout?: number }): Promise<Frame>;
  url(): string;
  close(): Promise<void>;
  /** Runs a script in every frame before the page's own scripts. */
  addInitScript(script: string): Promise<void>;
}
export interface BrowserContext {
  pages(): Page[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface PlaywrightCore {
  chromium: {
    launchPersistentContext(
      userDataDir: string,
      options: {
        executablePath: string;
        headless: boolean;
        args: string[];
        viewport?: { width: number; height: number };
        env?: NodeJS.ProcessEnv;
      },
    ): Promise<BrowserContext>;
  };
}

export function loadPlaywright(): PlaywrightCore {
  const require = createRequire(join(hostDir, 'package.json'));
  return require('playwright-core') as PlaywrightCore;
}
