// Each use case's module, loaded when first needed: a quick `status` loads only its own.
export const USE_CASES = {
  tune: async () => (await import('./tune.js')).TUNE,
  enroll: async () => (await import('./enroll.js')).ENROLL,
  status: async () => (await import('./status.js')).STATUS,
  journal: async () => (await import('./journal.js')).JOURNAL,
  rollback: async () => (await import('./rollback.js')).ROLLBACK,
  export: async () => (await import('./export.js')).EXPORT,
  unenroll: async () => (await import('./unenroll.js')).UNENROLL,
  score: async () => (await import('./score.js')).SCORE,
  guardPause: async () => (await import('./guardPause.js')).GUARD_PAUSE,
};

export type UseCaseName = keyof typeof USE_CASES;
export type Loaded<K extends UseCaseName> = Awaited<ReturnType<(typeof USE_CASES)[K]>>;
export type RemoteName = { [K in UseCaseName]: Loaded<K> extends { dbus: object } ? K : never }[UseCaseName];
