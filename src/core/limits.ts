// Bounds of the settle period, shared by the CLI's parsers and the daemon's spec validation.
export const SETTLE_MIN_MS = 100;
export const SETTLE_MAX_MS = 600_000;
export const DEFAULT_SETTLE_MS = 2000;
