/**
 * Kept only for `components/frontend/index.ts` while the front tier moves over: the
 * front tier's rules live in `rules/frontend.ts`, and `load.ts` normalises the password.
 */
export function vrrpPasswordOf(value: string): string {
  return value;
}
