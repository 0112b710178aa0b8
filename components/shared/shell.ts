/** Helpers for rendering shell text. Pure. */

/** A single-quoted shell word that stands for exactly `s` (which cannot hold NUL: no bash string can). */
export function shq(s: string): string {
  if (s.includes("\0")) throw new Error(`${JSON.stringify(s.slice(0, 40))} holds NUL, which no shell word can carry`);
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A whole number as the digits bash may do arithmetic with. The only way a number enters
 * a script: anything else (a fraction, NaN, a string that slipped through) throws here
 * instead of reaching `(( ))`, where bash would evaluate it as an expression.
 */
export function intLiteral(what: string, n: number): string {
  if (typeof n !== "number" || !Number.isSafeInteger(n)) throw new Error(`${what}: ${String(n)} is not a whole number`);
  return String(n);
}

/** A bash array literal of single-quoted words, one per line. */
export function bashArray(name: string, items: readonly string[]): string {
  if (items.length === 0) return `${name}=()`;
  return `${name}=(\n${items.map((i) => `  ${shq(i)}`).join("\n")}\n)`;
}

/**
 * A heredoc that writes `content` verbatim. The delimiter is chosen so it cannot occur
 * in the content, and quoted so nothing in the content is expanded.
 */
export function heredoc(content: string, delimiter = "ESTATE_EOF"): string {
  let d = delimiter;
  const lines = new Set(content.split("\n"));
  for (let i = 1; lines.has(d); i++) d = `${delimiter}_${i}`;
  const body = content.endsWith("\n") ? content : `${content}\n`;
  return `<<'${d}'\n${body}${d}`;
}

/**
 * The shell functions every estate script uses to write files idempotently: `put_file
 * MODE PATH` writes stdin to PATH only when the content differs (atomically, keeping the
 * previous version as PATH.estate-prev), and records PATH so `changed PATH` can decide
 * whether a reload is due. `restore_file PATH` undoes a write that failed validation.
 */
export const FILE_FUNCTIONS = `changed_files=()
put_file() {
  local mode=$1 path=$2 tmp
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.estate.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 0
  fi
  if [[ -f "$path" ]]; then cp -p "$path" "$path.estate-prev"; else rm -f "$path.estate-prev"; fi
  mv -f "$tmp" "$path"
  changed_files+=("$path")
}
changed() {
  local p
  for p in "\${changed_files[@]}"; do [[ "$p" == "$1" ]] && return 0; done
  return 1
}
restore_file() {
  if [[ -f "$1.estate-prev" ]]; then mv -f "$1.estate-prev" "$1"; else rm -f "$1"; fi
}`;
