/**
 * The one way the library reports problems with what it was given. Constructs record each
 * problem as a cdktf error annotation on themselves (`reportProblems`), so that synth gathers
 * every problem of every stack, prints one a line and writes nothing. Pure builders (job specs,
 * configs) that have no construct to annotate throw a `ProblemsError` listing every problem they
 * found; the construct that called them turns it into annotations.
 */
import { Annotations } from "cdktf";
import { IConstruct } from "constructs";

/** Every problem a builder found, one line each: where, the value received, what is expected. */
export class ProblemsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ProblemsError";
  }
}

/** Records `problems` as error annotations of `scope`: synth prints them and writes nothing. */
export function reportProblems(scope: IConstruct, problems: readonly string[]): void {
  for (const p of problems) Annotations.of(scope).addError(p);
}

/**
 * Runs `build`; when it throws a ProblemsError, records its problems on `scope` and returns
 * undefined, so that the caller goes on and every other problem is found too.
 */
export function collectingProblems<T>(scope: IConstruct, build: () => T): T | undefined {
  try {
    return build();
  } catch (e) {
    if (!(e instanceof ProblemsError)) throw e;
    reportProblems(scope, e.problems);
    return undefined;
  }
}
