import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';

/**
 * The crash-torture harness behind `npm run torture`. A child process mutates a store and reports
 * on stdout, one line each:
 *
 *   `B <id> <json intent>`  before it issues commit `id` (so the parent knows it may reach disk)
 *   `A <id>`                once commit `id` is acknowledged (durable)
 *   `F <id>`                when commit `id` failed (it must then not be on disk)
 *   `R`                     when the store is open and mutations start
 *
 * The parent SIGKILLs the child at random moments, reopens the store, and checks that what it
 * finds is exactly the model after some prefix of the issued commits that includes every
 * acknowledged one (commits reach the journal in issue order, each all or nothing). The queue
 * (a later issue) plugs in its own subject: its own child, intent type and model.
 */
export interface TortureSubject<Model, Intent> {
  /** Node script of the child and its arguments for one round. */
  childCommand(directory: string, round: number, firstId: number): { script: string; args: string[] };
  emptyModel(): Model;
  /** Returns a new model (the old one must stay usable). */
  apply(model: Model, intent: Intent): Model;
  /** Canonical text of a model, comparable with `readStore`. */
  render(model: Model): string;
  /** Opens the store as the extension would, renders its state and closes it; throws when unreadable. */
  readStore(directory: string): Promise<{ rendered: string; problems: string[] }>;
}

export interface TortureOptions {
  readonly kills: number;
  readonly directory: string;
  /** Random source, so a failing run can be replayed. @default Math.random */
  readonly random?: () => number;
  readonly log?: (line: string) => void;
  /**
   * Stops the campaign between rounds, and drops the round in progress: a test that timed out
   * aborts before it deletes the folder, so a campaign left running never reads a deleted store
   * and counts what it finds there as lost.
   */
  readonly signal?: AbortSignal;
}

export interface TortureResult {
  readonly kills: number;
  readonly acknowledged: number;
  readonly lost: number;
  readonly unreadable: number;
  readonly problems: readonly string[];
}

export function summaryLine(result: TortureResult): string {
  return `torture: ${result.kills} kills, ${result.acknowledged} acknowledged, ${result.lost} lost, ${result.unreadable} unreadable`;
}

/** Child side: one protocol line, written synchronously so it is out before the commit starts. */
export function report(line: string): void {
  writeSync(1, `${line}\n`);
}

interface Issued<Intent> {
  readonly id: number;
  readonly intent: Intent;
  acknowledged: boolean;
}

export async function runTorture<Model, Intent>(subject: TortureSubject<Model, Intent>, options: TortureOptions): Promise<TortureResult> {
  const random = options.random ?? Math.random;
  let model = subject.emptyModel();
  let nextId = 1;
  let acknowledged = 0;
  let lost = 0;
  let unreadable = 0;
  let kills = 0;
  const problems: string[] = [];
  for (let round = 0; round < options.kills && !options.signal?.aborted; round++) {
    const issued: Issued<Intent>[] = [];
    const { script, args } = subject.childCommand(options.directory, round, nextId);
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = new Promise<void>((resolve) => {
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? ''; // a line cut by the kill is ignored: its write never finished
        for (const line of lines) {
          if (line === 'R') resolve();
          const match = /^([BAF]) (\d+)(?: (.*))?$/.exec(line);
          if (!match) continue;
          const id = Number(match[2]);
          if (match[1] === 'B') issued.push({ id, intent: JSON.parse(match[3] ?? 'null') as Intent, acknowledged: false });
          const entry = issued.find((candidate) => candidate.id === id);
          if (match[1] === 'A' && entry) entry.acknowledged = true;
          if (match[1] === 'F' && entry) issued.splice(issued.indexOf(entry), 1);
        }
      });
    });
    // 'close', not 'exit': every line the child wrote has been read by then.
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    // Kill during the child's own open and recovery sometimes, mostly while it commits.
    if (random() < 0.2) await delay(random() * 150);
    else {
      await Promise.race([ready, exited]);
      await delay(random() * 60);
    }
    if (await kill(child, exited)) kills++;
    if (child.exitCode !== null && child.exitCode !== 0) {
      problems.push(`round ${round}: the child exited with ${child.exitCode}: ${stderr.trim().slice(0, 500)}`);
    }
    nextId = Math.max(nextId, ...issued.map((entry) => entry.id + 1));

    const mustHave = issued.reduce((last, entry, index) => (entry.acknowledged ? index + 1 : last), 0);
    acknowledged += issued.filter((entry) => entry.acknowledged).length;
    let found: { rendered: string; problems: string[] };
    try {
      found = await subject.readStore(options.directory);
      if (options.signal?.aborted) break;
    } catch (error) {
      if (options.signal?.aborted) break;
      unreadable++;
      problems.push(`round ${round}: the store did not open: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (found.problems.length > 0) {
      unreadable++;
      problems.push(...found.problems.map((problem) => `round ${round}: ${problem}`));
    }
    // Which prefix of the issued commits is on disk? The longest one that matches.
    let candidate = model;
    let match: { length: number; model: Model } | undefined =
      subject.render(candidate) === found.rendered ? { length: 0, model } : undefined;
    for (let index = 0; index < issued.length; index++) {
      candidate = subject.apply(candidate, (issued[index] as Issued<Intent>).intent);
      if (subject.render(candidate) === found.rendered) match = { length: index + 1, model: candidate };
    }
    if (!match) {
      lost += Math.max(1, mustHave);
      problems.push(
        `round ${round}: the store matches no prefix of the ${issued.length} issued commits (a lost commit or a partial batch)`,
      );
      options.log?.(`round ${round}: mismatch; continuing from what the store holds is impossible, stopping`);
      break;
    }
    if (match.length < mustHave) {
      lost += issued.slice(match.length, mustHave).filter((entry) => entry.acknowledged).length;
      problems.push(`round ${round}: ${mustHave - match.length} acknowledged commits are missing`);
    }
    model = match.model;
    if ((round + 1) % 25 === 0) options.log?.(`${round + 1} kills, ${acknowledged} acknowledged so far`);
  }
  return { kills, acknowledged, lost, unreadable, problems };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** @returns whether the child was still running, so the kill was real */
async function kill(child: ChildProcess, exited: Promise<void>): Promise<boolean> {
  const running = child.exitCode === null && child.signalCode === null;
  if (running) child.kill('SIGKILL');
  await exited;
  return running;
}
