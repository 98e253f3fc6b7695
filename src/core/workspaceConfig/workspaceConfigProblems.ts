import type { Node, ParseError } from 'jsonc-parser';
import { findNodeAtLocation, printParseErrorCode } from 'jsonc-parser';
import type { z } from 'zod';

/** A field of `.vscode/lifeline.json`, as keys and array indexes from the top. */
export type ConfigPath = readonly (string | number)[];

/** One thing wrong with `.vscode/lifeline.json`, where an editor can show it. */
export interface WorkspaceConfigProblem {
  /** `jobs[1].stages[0].timeoutSeconds`; empty for the file as a whole (a syntax error, the top-level object). */
  readonly path: string;
  readonly message: string;
  /** 0-based offset and length in the text (UTF-16 code units, as VS Code counts them). */
  readonly offset: number;
  readonly length: number;
  /** 1-based, for messages and logs. */
  readonly line: number;
  readonly column: number;
}

type Issue = z.core.$ZodIssue;

/** `jobs[1].stages[0].timeoutSeconds`, `jobs[0].env["my-var"]`. */
export function formatPath(path: ConfigPath): string {
  return path
    .map((key, index) => {
      if (typeof key === 'number') return `[${key}]`;
      if (/^[A-Za-z_$][\w$]*$/.test(key)) return index === 0 ? key : `.${key}`;
      return `[${JSON.stringify(key)}]`;
    })
    .join('');
}

/** `path: message (line L, column C)`, or the message alone for the file as a whole. */
export function describeProblem(problem: WorkspaceConfigProblem): string {
  return `${problem.path ? `${problem.path}: ` : ''}${problem.message} (line ${problem.line}, column ${problem.column})`;
}

/** Locates offsets in one text: line starts are computed once. */
export class TextPositions {
  private readonly lineStarts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  /** 1-based line and column of an offset. */
  position(offset: number): { line: number; column: number } {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.lineStarts[middle] ?? 0) <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: offset - (this.lineStarts[low] ?? 0) + 1 };
  }

  problem(path: ConfigPath | string, message: string, offset: number, length: number): WorkspaceConfigProblem {
    return { path: typeof path === 'string' ? path : formatPath(path), message, offset, length, ...this.position(offset) };
  }
}

/** Each syntax error at its own offset. */
export function syntaxProblems(errors: readonly ParseError[], positions: TextPositions): WorkspaceConfigProblem[] {
  return errors.map((error) =>
    positions.problem(
      '',
      `not valid JSON: ${describeParseError(printParseErrorCode(error.error))}`,
      error.offset,
      Math.max(1, error.length),
    ),
  );
}

/**
 * Turns zod issues into problems that name the field and sit on it. A union (a job is a command
 * or a pipeline) fails as one vague "Invalid input" carrying the issues of every branch: the
 * branch whose shape the value has (fewest missing and unknown fields) is the one the user meant,
 * so its issues are reported instead.
 */
export function schemaProblems(
  issues: readonly Issue[],
  root: Node | undefined,
  value: unknown,
  positions: TextPositions,
): WorkspaceConfigProblem[] {
  const problems: WorkspaceConfigProblem[] = [];
  const add = (issue: Issue, base: ConfigPath): void => {
    const path: ConfigPath = [...base, ...(issue.path as (string | number)[])];
    if (issue.code === 'invalid_union') {
      const branch = likeliestBranch(issue.errors, valueAt(value, path));
      if (branch) return branch.forEach((inner) => add(inner, path));
      // No branch fits better than another: when none takes this kind of value at all, say that.
      const wrongType = issue.errors.every((inner) => inner.some((i) => i.code === 'invalid_type' && i.path.length === 0));
      const first = issue.errors[0]?.find((i) => i.code === 'invalid_type' && i.path.length === 0);
      if (wrongType && first) return add(first, path);
    }
    if (issue.code === 'invalid_key') {
      const at = locate(root, path, true);
      problems.push(positions.problem(path, issue.issues[0]?.message ?? issue.message, at.offset, at.length));
      return;
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const at = locate(root, [...path, key], true);
        problems.push(positions.problem([...path, key], 'unknown field', at.offset, at.length));
      }
      return;
    }
    const at = locate(root, path, false);
    problems.push(positions.problem(path, messageOf(issue, valueAt(value, path)), at.offset, at.length));
  };
  for (const issue of issues) add(issue, []);
  return problems;
}

function likeliestBranch(branches: readonly (readonly Issue[])[], value: unknown): readonly Issue[] | undefined {
  const scores = branches.map((issues) => issues.filter((issue) => isShapeMismatch(issue, value)).length);
  const best = Math.min(...scores);
  const winners = scores.filter((score) => score === best).length;
  return winners === 1 ? branches[scores.indexOf(best)] : undefined;
}

/** A field the branch requires and the value lacks, or one the value has and the branch does not know. */
function isShapeMismatch(issue: Issue, value: unknown): boolean {
  if (issue.code === 'unrecognized_keys') return issue.path.length === 0;
  if (issue.code === 'invalid_type') {
    return issue.path.length === 0 || (issue.path.length === 1 && valueAt(value, issue.path as ConfigPath) === undefined);
  }
  return false;
}

function messageOf(issue: Issue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return value === undefined
        ? `required: expected ${withArticle(issue.expected)}`
        : `expected ${withArticle(issue.expected)}, got ${describeValue(value)}`;
    case 'invalid_value':
      return `expected ${issue.values.map((allowed) => JSON.stringify(allowed)).join(' or ')}, got ${JSON.stringify(value) ?? 'nothing'}`;
    default:
      return issue.message;
  }
}

function withArticle(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return withArticle(typeof value);
}

function valueAt(value: unknown, path: ConfigPath): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/**
 * Where a field is in the text: its value (or its key, for an unknown field). A missing field is
 * shown at the opening brace of the nearest enclosing value that exists, as VS Code's own schema check does.
 */
export function locate(root: Node | undefined, path: ConfigPath, key: boolean): { offset: number; length: number } {
  if (!root) return { offset: 0, length: 1 };
  const node = findNodeAtLocation(root, [...path]);
  if (node) {
    const keyNode = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
    if (key && keyNode) return { offset: keyNode.offset, length: keyNode.length };
    return { offset: node.offset, length: node.length };
  }
  for (let depth = path.length - 1; depth >= 0; depth--) {
    const parent = findNodeAtLocation(root, path.slice(0, depth));
    if (parent) return { offset: parent.offset, length: 1 };
  }
  return { offset: root.offset, length: 1 };
}

/** `ValueExpected` → `value expected`. */
function describeParseError(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}
