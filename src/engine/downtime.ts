// Downtime as the tune's own probes see it: from the moment a restart is asked for until the
// probes pass again. A rejected trial stays down until the next restart that passes (its revert,
// or the next trial, which the adaptive strategy lets revert it). Virtual time in engine tests.

export class DowntimeMeter {
  private downSince: number | undefined;
  private total = 0;

  /** A restart is asked for at `t` (ms), or the service was seen failing: it stops serving, unless
   * it is down already. */
  restarting(t: number): void {
    this.downSince ??= t;
  }

  /** Every probe passed at `t`: the service serves again. */
  serving(t: number): void {
    if (this.downSince === undefined) return;
    this.total += Math.max(0, t - this.downSince);
    this.downSince = undefined;
  }

  /** Milliseconds without service so far; a span still open counts up to `now`. */
  ms(now: number): number {
    return this.total + (this.downSince === undefined ? 0 : Math.max(0, now - this.downSince));
  }
}
