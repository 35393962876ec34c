/**
 * cdktf records a full stack trace (Error.stackTraceLimit = MAX) for every token it creates; with
 * thousands of resources, formatting those traces is the largest part of a synth. This formats
 * them as empty while leaving real errors' traces as usual: cdktf's recorder passes a plain
 * object, a thrown error is an Error.
 * @internal
 */
export function skipTokenStackTraces(): void {
  if (process.env.CDKTF_FULL_TRACES === "1") return;
  process.setSourceMapsEnabled(false);
  Error.prepareStackTrace = (target: unknown, frames: NodeJS.CallSite[]): string => {
    if (!(target instanceof Error)) return "";
    return [String(target), ...frames.map((f) => `    at ${f.toString()}`)].join("\n");
  };
}
