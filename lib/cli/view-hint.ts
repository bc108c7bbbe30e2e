/** The line `raunet segment` and `raunet demo` print to say how to look at their output. */
export function viewHint(out: string): string {
  const quoted = /^[\w./-]+$/.test(out) ? out : `'${out.replace(/'/g, `'\\''`)}'`;
  return `look at the results in the browser: npx raunet view ${quoted}`;
}
