/**
 * A length of time. The Nomad job API expresses durations as integer nanoseconds; the Nomad
 * Autoscaler policy expresses them as Go duration strings ("30s", "1m30s"). `Duration` converts to
 * both.
 *
 * ```ts
 * Duration.seconds(30).toNanoseconds(); // 30_000_000_000
 * Duration.minutes(5).toGoString();     // "5m"
 * ```
 */
export class Duration {
  private static readonly NS_PER_MS = 1_000_000;
  private static readonly NS_PER_S = 1_000_000_000;
  private static readonly NS_PER_MIN = 60 * Duration.NS_PER_S;
  private static readonly NS_PER_H = 60 * Duration.NS_PER_MIN;

  /** A duration of `amount` milliseconds. */
  public static millis(amount: number): Duration {
    return Duration.of(amount, Duration.NS_PER_MS, "millis");
  }

  /** A duration of `amount` seconds. */
  public static seconds(amount: number): Duration {
    return Duration.of(amount, Duration.NS_PER_S, "seconds");
  }

  /** A duration of `amount` minutes. */
  public static minutes(amount: number): Duration {
    return Duration.of(amount, Duration.NS_PER_MIN, "minutes");
  }

  /** A duration of `amount` hours. */
  public static hours(amount: number): Duration {
    return Duration.of(amount, Duration.NS_PER_H, "hours");
  }

  /** A duration of `amount` days (24 hours each). */
  public static days(amount: number): Duration {
    return Duration.of(amount, 24 * Duration.NS_PER_H, "days");
  }

  private static of(amount: number, unitNs: number, unit: string): Duration {
    if (typeof amount !== "number" || !Number.isFinite(amount) || amount < 0) {
      throw new Error(`Duration.${unit}: amount: received ${String(amount)}; expected a finite number >= 0`);
    }
    const ns = Math.round(amount * unitNs);
    if (!Number.isSafeInteger(ns)) {
      throw new Error(`Duration.${unit}: amount: received ${String(amount)}; expected at most ${Math.floor(Number.MAX_SAFE_INTEGER / unitNs)} ${unit}`);
    }
    return new Duration(ns);
  }

  private constructor(private readonly ns: number) {}

  /** The duration in whole nanoseconds, the unit of every duration field of the Nomad job API. */
  public toNanoseconds(): number {
    return this.ns;
  }

  /** The duration in milliseconds (may be fractional). */
  public toMilliseconds(): number {
    return this.ns / Duration.NS_PER_MS;
  }

  /** The duration in seconds (may be fractional). */
  public toSeconds(): number {
    return this.ns / Duration.NS_PER_S;
  }

  /**
   * The duration as a Go duration string accepted by `time.ParseDuration`, e.g. `"1h30m"`,
   * `"10s"`, `"250ms"`, `"0s"`.
   */
  public toGoString(): string {
    if (this.ns === 0) return "0s";
    let rest = this.ns;
    const parts: string[] = [];
    const units: ReadonlyArray<readonly [number, string]> = [
      [Duration.NS_PER_H, "h"],
      [Duration.NS_PER_MIN, "m"],
      [Duration.NS_PER_S, "s"],
      [Duration.NS_PER_MS, "ms"],
      [1_000, "us"],
      [1, "ns"],
    ];
    for (const [size, suffix] of units) {
      const count = Math.floor(rest / size);
      if (count > 0) {
        parts.push(`${count}${suffix}`);
        rest -= count * size;
      }
    }
    return parts.join("");
  }

  /** Same as {@link toGoString}. */
  public toString(): string {
    return this.toGoString();
  }
}
