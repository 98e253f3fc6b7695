import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DamageKind } from './damageKinds';
import { damageKinds, randomDamage, seededRandom, systematicDamages } from './damageKinds';
import { writeDamagedImage } from './image';
import type { DamageSubject, Mode, Outcome } from './verdict';
import { isRefusal } from './verdict';

export interface CampaignOptions {
  readonly seed: number;
  readonly subjects: readonly { readonly subject: DamageSubject; readonly trials: number }[];
  /** Scratch folder (a tmpfs when there is one: this tests recovery logic, not the disk). */
  readonly directory: string;
  readonly modes?: readonly Mode[];
}

export interface Row {
  readonly subject: string;
  readonly mode: Mode;
  readonly kind: DamageKind;
  readonly counts: Record<Outcome, number>;
  /** Silent losses by what the open said instead (`no event`, `journalTailCut`, ...). */
  readonly silentSaid: Map<string, number>;
}

export interface Failure {
  readonly subject: string;
  readonly mode: Mode;
  readonly file: string;
  readonly kind: DamageKind;
  readonly damage: string;
  readonly outcome: Outcome;
  readonly said: string;
  readonly detail: string;
}

export interface CampaignResult {
  readonly seed: number;
  readonly trials: number;
  readonly rows: Row[];
  readonly failures: Failure[];
  readonly totals: Record<Outcome, number>;
}

const outcomes: readonly Outcome[] = ['intact', 'reported', 'refused', 'silent', 'crash'];

function zero(): Record<Outcome, number> {
  return { intact: 0, reported: 0, refused: 0, silent: 0, crash: 0 };
}

/**
 * Populates each subject once per mode, then per trial copies its image, applies ONE damage to
 * ONE file (first every systematic damage: each file deleted and emptied, each journal cut at and
 * inside every record; then random ones up to the subject's budget) and opens it through the
 * product's open path; the subject's oracle judges what came back.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const rows = new Map<string, Row>();
  const failures: Failure[] = [];
  const totals = zero();
  let trials = 0;
  for (const { subject, trials: budget } of options.subjects) {
    const random = seededRandom(options.seed ^ hash(subject.name));
    const foreignDir = join(options.directory, `${subject.name}-foreign`);
    mkdirSync(foreignDir, { recursive: true });
    const foreign = await subject.populate(foreignDir, 'clean', 1);
    await foreign.dispose();
    const modes = options.modes ?? ['clean', 'crash'];
    for (const mode of modes) {
      const populated = join(options.directory, `${subject.name}-${mode}`);
      mkdirSync(populated, { recursive: true });
      const fixture = await subject.populate(populated, mode, 0);
      try {
        const perMode = Math.ceil(budget / modes.length);
        const damages = sample(systematicDamages(fixture.image, fixture.journals, random), Math.floor(perMode * 0.6));
        const files = [...fixture.image.keys()];
        while (damages.length < perMode) {
          const file = files[Math.floor(random() * files.length)] as string;
          const kind = damageKinds[Math.floor(random() * damageKinds.length)] as DamageKind;
          damages.push(randomDamage(kind, file, fixture.image.get(file) as Buffer, fixture.journals.has(file), foreign.image, random));
        }
        const trialDir = join(options.directory, `${subject.name}-${mode}-trial`);
        for (const damage of damages) {
          writeDamagedImage(trialDir, fixture.image, damage);
          let outcome: Outcome;
          let said = 'threw';
          let detail: string;
          try {
            const result = await fixture.open(trialDir);
            ({ outcome, said, detail } = result);
          } catch (error) {
            outcome = isRefusal(error) ? 'refused' : 'crash';
            detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          }
          trials++;
          totals[outcome]++;
          const key = `${subject.name}\u0000${mode}\u0000${damage.kind}`;
          let row = rows.get(key);
          if (!row) rows.set(key, (row = { subject: subject.name, mode, kind: damage.kind, counts: zero(), silentSaid: new Map() }));
          row.counts[outcome]++;
          if (outcome === 'silent') row.silentSaid.set(said, (row.silentSaid.get(said) ?? 0) + 1);
          if (outcome === 'silent' || outcome === 'crash') {
            failures.push({
              subject: subject.name,
              mode,
              file: damage.file,
              kind: damage.kind,
              damage: damage.detail,
              outcome,
              said,
              detail,
            });
          }
        }
        rmSync(trialDir, { recursive: true, force: true });
      } finally {
        await fixture.dispose();
      }
    }
  }
  return { seed: options.seed, trials, rows: [...rows.values()], failures, totals };
}

/** At most `limit` of `items`, evenly spread (the deletions and emptyings, listed first, always kept). */
function sample<T extends { readonly kind: DamageKind }>(items: readonly T[], limit: number): T[] {
  if (items.length <= limit) return [...items];
  const kept = items.filter((item) => item.kind !== 'truncateRecord');
  const cuts = items.filter((item) => item.kind === 'truncateRecord');
  const room = Math.max(0, limit - kept.length);
  for (let index = 0; index < room; index++) kept.push(cuts[Math.floor((index * cuts.length) / room)] as T);
  return kept;
}

function hash(text: string): number {
  let value = 2166136261;
  for (const char of text) value = Math.imul(value ^ char.charCodeAt(0), 16777619);
  return value >>> 0;
}

/** The table: per subject, mode and damage kind; silent losses also by what the open said instead. */
export function formatTable(result: CampaignResult): string {
  const header = ['subject', 'mode', 'damage', ...outcomes, 'silent, as said'];
  const lines = result.rows.map((row) => [
    row.subject,
    row.mode,
    row.kind,
    ...outcomes.map((outcome) => String(row.counts[outcome])),
    [...row.silentSaid].map(([said, count]) => `${count} ${said}`).join('; '),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length)));
  const render = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  const total = outcomes.map((outcome) => `${result.totals[outcome]} ${outcome}`).join(', ');
  return [
    `damage fuzz: seed ${result.seed} (replay: LIFELINE_SEED=${result.seed}), ${result.trials} trials`,
    render(header),
    ...lines.map(render),
    `damage fuzz: ${result.trials} trials: ${total}`,
  ].join('\n');
}

/**
 * Silent losses and crashes grouped by cause: the subject, the file (numbers folded, so every
 * generation or shard is one line), the damage and what the open said instead of a loss report.
 */
export function formatCauses(result: CampaignResult): string {
  const causes = new Map<string, { clean: number; crash: number }>();
  for (const failure of result.failures) {
    const file = failure.file.replace(/\d+/g, '#');
    const key = `${failure.outcome === 'crash' ? 'CRASH ' : ''}${failure.subject} ${file} ${failure.kind}: said ${failure.said}`;
    const counts = causes.get(key) ?? { clean: 0, crash: 0 };
    counts[failure.mode]++;
    causes.set(key, counts);
  }
  const lines = [...causes]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([cause, counts]) => `  ${String(counts.clean).padStart(5)} ${String(counts.crash).padStart(5)}  ${cause}`);
  return lines.length === 0 ? 'no silent loss, no crash' : ['silent losses and crashes by cause (clean, crash):', ...lines].join('\n');
}

/** The seed from LIFELINE_SEED, or a fresh one (printed with the table, so any run replays). */
export function campaignSeed(): number {
  const fromEnv = process.env.LIFELINE_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const seed = Number(fromEnv);
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`LIFELINE_SEED must be a non-negative integer, not "${fromEnv}"`);
    return seed >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 31);
}
