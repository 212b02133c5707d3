// Signal names and numbers, apart from tables.ts so that `kill`, which
// engines call for every container, loads this and not every config table.

/** Signal names (without SIG) -> numbers on Linux x86_64/arm64. */
export const SIGNALS: ReadonlyMap<string, number> = new Map([
  ['HUP', 1], ['INT', 2], ['QUIT', 3], ['ILL', 4], ['TRAP', 5], ['ABRT', 6], ['IOT', 6],
  ['BUS', 7], ['FPE', 8], ['KILL', 9], ['USR1', 10], ['SEGV', 11], ['USR2', 12],
  ['PIPE', 13], ['ALRM', 14], ['TERM', 15], ['STKFLT', 16], ['CHLD', 17], ['CONT', 18],
  ['STOP', 19], ['TSTP', 20], ['TTIN', 21], ['TTOU', 22], ['URG', 23], ['XCPU', 24],
  ['XFSZ', 25], ['VTALRM', 26], ['PROF', 27], ['WINCH', 28], ['IO', 29], ['POLL', 29],
  ['PWR', 30], ['SYS', 31],
]);

export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

/** Parses "TERM", "SIGTERM", "sigterm", "15", "RTMIN+3"; undefined when unknown. */
export function parseSignal(text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= 1 && n <= SIGRTMAX ? n : undefined;
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  const known = SIGNALS.get(name);
  if (known !== undefined) return known;
  const rt = /^RTM(IN|AX)([+-]\d+)?$/.exec(name);
  if (rt) {
    const n = (rt[1] === 'IN' ? SIGRTMIN : SIGRTMAX) + Number(rt[2] ?? 0);
    return n >= SIGRTMIN && n <= SIGRTMAX ? n : undefined;
  }
  return undefined;
}
