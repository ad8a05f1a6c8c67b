// A small data-driven transcript format (after etcd's datadriven testdata):
//
//   # comment lines (the file opens with its goal)
//   command arg key=value ...
//   ----
//   expected output lines
//   <blank line>
//
// parseTranscript() reads a file into blocks; renderTranscript() writes blocks
// back with actual outputs, which is how FJORD_REWRITE=1 regenerates the files.

export interface Block {
  /** Comment and blank lines before the command, verbatim. */
  readonly preamble: string[];
  readonly line: number;
  readonly command: string;
  readonly args: string[];
  readonly kv: ReadonlyMap<string, string>;
  readonly expected: string;
}

export function parseTranscript(text: string): { blocks: Block[]; trailer: string[] } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i] as string;
    if (raw.trim() === '' || raw.startsWith('#')) {
      preamble.push(raw);
      i++;
      continue;
    }
    const line = i + 1;
    const words = raw.trim().split(/\s+/);
    const command = words[0] as string;
    const args: string[] = [];
    const kv = new Map<string, string>();
    for (const w of words.slice(1)) {
      const eq = w.indexOf('=');
      if (eq > 0) kv.set(w.slice(0, eq), w.slice(eq + 1));
      else args.push(w);
    }
    i++;
    if (lines[i] !== '----') throw new Error(`line ${i + 1}: expected ---- after command "${raw}"`);
    i++;
    const out: string[] = [];
    while (i < lines.length && (lines[i] as string) !== '') out.push(lines[i++] as string);
    if (i < lines.length) i++; // the blank line that ends the block
    blocks.push({ preamble, line, command, args, kv, expected: out.join('\n') });
    preamble = [];
  }
  while (preamble.length > 0 && preamble[preamble.length - 1] === '') preamble.pop();
  return { blocks, trailer: preamble };
}

function commandText(b: Block): string {
  return [b.command, ...b.args, ...[...b.kv].map(([k, v]) => `${k}=${v}`)].join(' ');
}

/** Renders the file with the given outputs (one per block). */
export function renderTranscript(parsed: { blocks: Block[]; trailer: string[] }, outputs: readonly string[]): string {
  const out: string[] = [];
  parsed.blocks.forEach((b, k) => {
    const o = outputs[k] as string;
    // A blank line ends a block, so an output must not contain one.
    if (o.split('\n').some((l, i, all) => l === '' && all.length > 1)) throw new Error(`line ${b.line}: output of ${b.command} contains a blank line`);
    out.push(...b.preamble, commandText(b), '----', outputs[k] === '' ? 'ok' : (outputs[k] as string), '');
  });
  out.push(...parsed.trailer);
  let text = out.join('\n');
  if (!text.endsWith('\n')) text += '\n';
  return text;
}

export function intArg(b: Block, index: number): number {
  const v = Number(b.args[index]);
  if (!Number.isSafeInteger(v)) throw new Error(`line ${b.line}: argument ${index + 1} of ${b.command} must be an integer`);
  return v;
}

export function idList(s: string | undefined): number[] {
  if (s === undefined || s === '') return [];
  return s.split(',').map((x) => {
    const v = Number(x);
    if (!Number.isSafeInteger(v)) throw new Error(`bad id list ${s}`);
    return v;
  });
}
