/**
 * The base of Lifeline's typed errors (docs/errors.md): each carries a `reason` that callers
 * branch on, never the message text, which is written for the person who reads it. Each part of
 * the core keeps its own subclass and its own union of reasons, so the parts can change apart.
 */
export abstract class LifelineError<R extends string = string> extends Error {
  /**
   * @param name the subclass's name, given as text rather than read from the constructor, which a
   * minifier renames.
   */
  constructor(
    name: string,
    readonly reason: R,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = name;
  }

  /**
   * Whether `error` is an instance of the class this is called on (`JobError.is(error)`), and, when
   * `reason` is given, has that reason. Typed by the class: `JobError.is(e, 'closed')` does not
   * compile, since 'closed' is not a job error's reason.
   */
  static is<T extends LifelineError>(this: abstract new (...args: never[]) => T, error: unknown, reason?: T['reason']): error is T {
    return error instanceof this && (reason === undefined || error.reason === reason);
  }
}
