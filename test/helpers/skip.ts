// Tests whose prerequisite is missing are skipped, never passed: these give
// `test`/`describe` where the prerequisite holds, else `.skip` with the
// reason added to the title (jest lists it as skipped) and printed once.

type Test = typeof test;
type Describe = typeof describe;

function logged(reason: string): string {
  process.stderr.write(`[skipped] ${reason}\n`);
  return ` [skipped: ${reason}]`;
}

/** `test` when `holds`, else `test.skip` with `reason` in the title. */
export function testIf(holds: boolean, reason: string): Test {
  if (holds) return test;
  const note = logged(reason);
  const skip = ((name: string, ...rest: unknown[]) => (test.skip as (...a: unknown[]) => void)(`${name}${note}`, ...rest)) as unknown as Test;
  return Object.assign(skip, { each: test.skip.each });
}

/** `describe` when `holds`, else `describe.skip` with `reason` in the title. */
export function describeIf(holds: boolean, reason: string): Describe {
  if (holds) return describe;
  const note = logged(reason);
  const skip = ((name: string, fn: () => void) => describe.skip(`${name}${note}`, fn)) as unknown as Describe;
  return Object.assign(skip, { each: describe.skip.each });
}
