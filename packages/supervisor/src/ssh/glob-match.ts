/** OpenSSH's match_pattern: `*` matches any run of characters, `?` any one; no escapes, no classes. */
export function globMatch(subject: string, pattern: string): boolean {
  let s = 0;
  let p = 0;
  let starP = -1;
  let starS = 0;
  while (s < subject.length) {
    const pc = pattern[p];
    if (pc === "*") {
      starP = p++;
      starS = s;
    } else if (pc !== undefined && (pc === "?" || pc === subject[s])) {
      p++;
      s++;
    } else if (starP >= 0) {
      p = starP + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}
