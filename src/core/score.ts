// Parses the overall line of `systemd-analyze security UNIT` in any locale:
// "→ Overall exposure level for nginx.service: 9.6 UNSAFE :-{" (UTF-8) or "-> Overall …" (LANG=C).
export function parseOverallExposure(text: string): number | undefined {
  const m = /(?:→|->)\s*Overall exposure level for \S+:\s*(\d+(?:\.\d)?)\s/.exec(text);
  return m ? Number(m[1]) : undefined;
}

export function exposureLabel(score: number): string {
  const v = Math.round(score * 10);
  if (v >= 90) return 'UNSAFE';
  if (v >= 75) return 'EXPOSED';
  if (v >= 50) return 'MEDIUM';
  if (v >= 10) return 'OK';
  if (v >= 1) return 'SAFE';
  return 'PERFECT';
}
