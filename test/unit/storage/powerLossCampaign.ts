import { installStorageFs } from '../../../src/core/storage/storageFs';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import { PowerLossFs } from './powerLossFs';

/**
 * The power-cut campaign: a store runs a random workload over a PowerLossFs, the power goes off at
 * a random file call, the store is reopened from the same folder on the next "boot", and what it
 * holds must be the model after some prefix of the issued commits that includes every
 * acknowledged one (commits reach the journal in issue order, each all or nothing). A store may
 * report damage, but no acknowledged commit may go missing: that would mean a missing fsync.
 */
export interface PowerSubject<Model, Intent> {
  readonly name: string;
  emptyModel(): Model;
  /** Returns a new model (the old one must stay usable); total: a refused intent changes nothing. */
  apply(model: Model, intent: Intent): Model;
  render(model: Model): string;
  /** Opens the store in `directory` as the product would. */
  open(directory: string, onEvent: (event: StorageEvent) => void): Promise<PowerStore<Intent>>;
}

export interface PowerStore<Intent> {
  /** The open store's state, rendered like the model. */
  read(): Promise<string>;
  /** A random commit: its intent, and the call that makes it (resolves once acknowledged). */
  next(id: number, random: () => number): { intent: Intent; commit: () => Promise<unknown> };
  /** Work besides commits that writes files: a compaction, an archival. */
  maintain(random: () => number): Promise<void>;
  /** `clean`: a normal close; otherwise the process is dead and this only lets go of the store. */
  close(clean: boolean): Promise<void>;
}

export interface PowerOptions {
  readonly cuts: number;
  readonly directory: string;
  readonly random: () => number;
  /** The cut comes at a call drawn from 1..maxCalls after the boot. @default 300 */
  readonly maxCalls?: number;
  readonly log?: (line: string) => void;
}

export interface PowerResult {
  readonly cuts: number;
  readonly acknowledged: number;
  readonly lost: number;
  /** Events other than a torn tail cut: damage the store reported after a cut. */
  readonly reported: number;
  readonly problems: readonly string[];
}

export function powerSummary(result: Pick<PowerResult, 'cuts' | 'acknowledged' | 'lost'>): string {
  return `power-loss: ${result.cuts} cuts, ${result.acknowledged} acknowledged, ${result.lost} lost`;
}

/** The seed of this run: LIFELINE_SEED to replay one, else a fresh one (print it). */
export function campaignSeed(): number {
  const given = process.env.LIFELINE_SEED;
  return given !== undefined && given !== '' ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 32);
}

interface Issued<Intent> {
  readonly intent: Intent;
  acknowledged: boolean;
}

export async function runPowerCampaign<Model, Intent>(subject: PowerSubject<Model, Intent>, options: PowerOptions): Promise<PowerResult> {
  const { random } = options;
  const layer = new PowerLossFs();
  const installed = installStorageFs(layer);
  let model = subject.emptyModel();
  let issued: Issued<Intent>[] = [];
  let nextId = 1;
  let acknowledged = 0;
  let lost = 0;
  let reported = 0;
  const problems: string[] = [];
  const onEvent = (event: StorageEvent): void => {
    // A torn tail is what a cut leaves; a compaction that failed is the dead process's.
    if (!['journalTailCut', 'compacted', 'compactionFailed'].includes(event.type)) reported++;
    if (process.env.LIFELINE_POWER_DEBUG) options.log?.(`event ${JSON.stringify(event)}`);
  };

  /** Compares the opened store with the model; false when it found a loss (the campaign stops). */
  const check = async (store: PowerStore<Intent>, cut: number): Promise<boolean> => {
    const found = await store.read();
    const mustHave = issued.reduce((last, entry, index) => (entry.acknowledged ? index + 1 : last), 0);
    let candidate = model;
    let match: { length: number; model: Model } | undefined = subject.render(candidate) === found ? { length: 0, model } : undefined;
    for (let index = 0; index < issued.length; index++) {
      candidate = subject.apply(candidate, (issued[index] as Issued<Intent>).intent);
      if (subject.render(candidate) === found) match = { length: index + 1, model: candidate };
    }
    const checked = issued.filter((entry) => entry.acknowledged).length;
    acknowledged += checked;
    if (!match) {
      if (process.env.LIFELINE_POWER_DEBUG) options.log?.(`found ${found.slice(0, 3000)}\nmodel ${subject.render(model).slice(0, 3000)}`);
      lost += Math.max(1, checked);
      problems.push(`cut ${cut}: the store matches no prefix of the ${issued.length} issued commits (a lost commit or a partial one)`);
      return false;
    }
    if (match.length < mustHave) {
      const missing = issued.slice(match.length, mustHave).filter((entry) => entry.acknowledged).length;
      lost += missing;
      problems.push(`cut ${cut}: ${missing} acknowledged commits are missing`);
      return false; // the first loss ends the campaign: its seed and folder are what to look at
    }
    model = match.model;
    issued = [];
    return true;
  };

  try {
    for (let cut = 0; cut < options.cuts; cut++) {
      layer.reset();
      layer.cutAtCall(layer.calls + 1 + Math.floor(random() * (options.maxCalls ?? 300)), random);
      const inFlight = new Set<Promise<void>>();
      let store: PowerStore<Intent> | undefined;
      try {
        store = await subject.open(options.directory, onEvent);
        if (!(await check(store, cut))) {
          await store.close(true);
          return finish();
        }
        while (!layer.isDead) {
          const roll = random();
          if (roll < 0.015) {
            // A clean close and reopen within the boot: the reopened store must hold every commit.
            await Promise.allSettled(inFlight);
            await store.close(true);
            store = undefined;
            store = await subject.open(options.directory, onEvent);
            if (!(await check(store, cut))) {
              await store.close(true);
              return finish();
            }
          } else if (roll < 0.06) {
            await store.maintain(random);
          } else {
            while (inFlight.size < 4) {
              const { intent, commit } = store.next(nextId++, random);
              const entry: Issued<Intent> = { intent, acknowledged: false };
              issued.push(entry);
              const done: Promise<void> = commit()
                .then(
                  () => void (entry.acknowledged = true),
                  () => undefined,
                )
                .finally(() => inFlight.delete(done));
              inFlight.add(done);
            }
            await Promise.race(inFlight);
          }
        }
      } catch (error) {
        if (!layer.isDead) throw error;
      }
      await layer.whenCut;
      // Lets go of the dead store while every call still fails, so that nothing it left
      // scheduled can touch the files of the next boot.
      await store?.close(false).catch(() => undefined);
      await Promise.allSettled(inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      if ((cut + 1) % 50 === 0) options.log?.(`${cut + 1} cuts, ${acknowledged} acknowledged so far`);
    }
    layer.reset();
    const last = await subject.open(options.directory, onEvent);
    await check(last, options.cuts);
    await last.close(true);
    return finish();
  } finally {
    installed.dispose();
  }

  function finish(): PowerResult {
    return { cuts: layer.cutsMade, acknowledged, lost, reported, problems };
  }
}
