import type { Writable } from 'node:stream';
import type { Logger } from '../core/logger';

/**
 * Log lines on stderr, one per message, for a process whose stdout is a protocol (`lifeline mcp`:
 * MCP clients show a server's stderr in their logs). Trace and debug lines are left out.
 */
export class StderrLogger implements Logger {
  constructor(
    private readonly stderr: Writable,
    private readonly name: string,
  ) {}

  private write(level: string, message: string): void {
    if (this.stderr.writable) this.stderr.write(`${new Date().toISOString()} ${this.name} ${level} ${message}\n`);
  }

  trace(): void {}
  debug(): void {}
  info(message: string): void {
    this.write('info', message);
  }
  warn(message: string): void {
    this.write('warn', message);
  }
  error(message: string | Error): void {
    this.write('error', message instanceof Error ? message.message : message);
  }
}
