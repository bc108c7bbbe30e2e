/**
 * Let the event loop run (timers, I/O, signals). tfjs's CPU backends compute synchronously and their
 * promises resolve at once, so a loop of awaited steps is one unbroken chain of microtasks: Ctrl-C,
 * progress output and RPC replies (a vitest worker fails after 60 s without one) wait until it ends.
 * Await this between steps.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
