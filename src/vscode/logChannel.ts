import * as vscode from 'vscode';
import type { Logger } from '../core/logger';

/** The one LogOutputChannel, handed to the core as a plain Logger. */
export function createLogChannel(): { channel: vscode.LogOutputChannel; logger: Logger } {
  const channel = vscode.window.createOutputChannel('Lifeline', { log: true });
  const logger: Logger = {
    trace: (message, ...args) => channel.trace(message, ...args),
    debug: (message, ...args) => channel.debug(message, ...args),
    info: (message, ...args) => channel.info(message, ...args),
    warn: (message, ...args) => channel.warn(message, ...args),
    error: (message, ...args) => channel.error(message, ...args),
  };
  return { channel, logger };
}
