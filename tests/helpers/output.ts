/**
 * Turns a Pulumi Output (or any Input) into a value for a test, without hanging on
 * unknowns: under preview mocks an Output may never resolve through `apply`.
 * Known-ness and secrecy come from the SDK (`isKnown`, `pulumi.isSecret`,
 * `pulumi.containsUnknowns`), not from copies of its wire markers.
 */
import * as pulumi from "@pulumi/pulumi";

export interface Settled<T> {
  /** The value; undefined while unknown (a preview). */
  readonly value: T | undefined;
  readonly known: boolean;
  readonly secret: boolean;
}

/** The SDK's Output carries these; `promise(true)` resolves even when the value is unknown. */
interface OutputInternals<T> {
  promise(withUnknowns?: boolean): Promise<T>;
  readonly isKnown: Promise<boolean>;
}

export async function settled<T>(input: pulumi.Input<T>): Promise<Settled<pulumi.Unwrap<T>>> {
  const out = pulumi.output(input);
  const internals = out as unknown as OutputInternals<pulumi.Unwrap<T>>;
  const [value, known, secret] = await Promise.all([internals.promise(true), internals.isKnown, pulumi.isSecret(out)]);
  const reallyKnown = known && !pulumi.containsUnknowns(value);
  return { value: reallyKnown ? value : undefined, known: reallyKnown, secret };
}

/** The value of a known Output; fails the test when it is unknown. */
export async function valueOf<T>(input: pulumi.Input<T>): Promise<pulumi.Unwrap<T>> {
  const s = await settled(input);
  if (!s.known) throw new Error("the output is unknown (preview): no value to read");
  return s.value as pulumi.Unwrap<T>;
}
