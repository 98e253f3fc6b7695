import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type Message = Record<string, unknown>;

/**
 * A child process under test that speaks one JSON object per line: requests on its stdin,
 * messages on its stdout. Tests wait on messages (real events), never on time.
 */
export class DrivenProcess {
  readonly messages: Message[] = [];
  private readonly waiters: { match: (message: Message) => boolean; resolve: (message: Message) => void }[] = [];
  readonly exited: Promise<void>;
  stderr = '';

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    let buffered = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const message = JSON.parse(buffered.slice(0, newline)) as Message;
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        this.messages.push(message);
        for (const waiter of [...this.waiters]) {
          if (waiter.match(message)) {
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            waiter.resolve(message);
          }
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts `script` with one JSON argument, its configuration. */
  static spawnScript(script: string, config: unknown): ChildProcess {
    return spawn(process.execPath, [script, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** The first message (already seen or still to come) that matches. */
  next(match: (message: Message) => boolean, timeoutMs = 20_000): Promise<Message> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no matching message in time; stderr: ${this.stderr}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      });
    });
  }

  send(request: Message): void {
    this.child.stdin?.write(`${JSON.stringify(request)}\n`);
  }

  async exec(command: Message, commandId: string = randomUUID()): Promise<Message> {
    this.send({ op: 'exec', commandId, command });
    return this.next((m) => m.ev === 'result' && m.commandId === commandId);
  }

  /** The answer to a request sent now (not an earlier answer of the same kind). */
  async request(op: string, answer: string): Promise<Message> {
    const marker = this.messages.length;
    this.send({ op });
    return this.next((m) => m.ev === answer && this.messages.indexOf(m) >= marker);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Alive and not a zombie: in a container nobody may reap an orphan that was killed. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
