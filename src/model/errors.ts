/**
 * Every problem found in a model, input or capture file is a ModelFileError with a code, so callers can branch
 * without parsing text. Messages are one line and name the file label and, where there is one, the tensor.
 */
export type ModelFileErrorCode =
  | 'truncated' // shorter than its own header says (or than 8 bytes)
  | 'header-too-large' // header length over the 100 MB cap (checked before anything is decoded)
  | 'bad-json' // header is not UTF-8 JSON
  | 'bad-header' // header JSON is not an object, or an entry lacks dtype / shape / data_offsets or has the wrong types
  | 'metadata' // __metadata__ is not a string -> string map
  | 'bad-offsets' // data_offsets out of order, past the data section, or not matching shape x dtype size
  | 'overlap' // two tensors share bytes
  | 'dtype' // unknown dtype, or a dtype the caller cannot use (e.g. integer model weights)
  | 'shape' // shape entries not non-negative integers, or a tensor's shape differs from the model's
  | 'range' // a value does not fit the type it is converted to (e.g. an I64 outside int32)
  | 'missing' // a tensor the model needs is absent
  | 'unexpected' // tensors the model does not use are present
  | 'config' // the attnscope config is absent or invalid
  | 'write'; // the writer was given something it cannot write

export class ModelFileError extends Error {
  constructor(
    message: string,
    readonly code: ModelFileErrorCode,
    /** The file label the message names. */
    readonly file: string,
    /** The tensor (or config field) the problem is about, where there is one. */
    readonly tensor?: string,
  ) {
    super(message);
    this.name = 'ModelFileError';
  }
}

/** A name quoted for a one-line message: JSON escapes newlines and control characters; long names are clipped. */
export function quote(name: string, max = 120): string {
  return JSON.stringify(name.length > max ? `${name.slice(0, max)}…` : name);
}

/**
 * A value shown in a one-line message, clipped so a hostile file cannot produce a huge message. Bounded in depth as
 * well as length: JSON.stringify (and String) recurse, and a header nesting arrays 100 000 deep overflows the stack.
 */
export function show(value: unknown): string {
  const budget = { left: 100 };
  const s = brief(value, 0, budget);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

function brief(v: unknown, depth: number, budget: { left: number }): string {
  if (budget.left <= 0) return '…';
  let s: string;
  if (Array.isArray(v) || (typeof v === 'object' && v !== null)) {
    const array = Array.isArray(v);
    const [open, close] = array ? ['[', ']'] : ['{', '}'];
    const keys = array ? [] : Object.keys(v);
    const n = array ? (v as unknown[]).length : keys.length;
    if (n === 0) s = open + close;
    else if (depth >= 4) s = `${open}…${close}`;
    else {
      budget.left -= 2;
      const parts: string[] = [];
      for (let i = 0; i < n; i++) {
        if (budget.left <= 0) {
          parts.push('…');
          break;
        }
        const item = array ? (v as unknown[])[i] : (v as Record<string, unknown>)[keys[i]];
        const text = brief(item, depth + 1, budget);
        parts.push(array ? text : `${JSON.stringify(keys[i].slice(0, 40))}:${text}`);
      }
      s = open + parts.join(',') + close;
    }
  } else if (typeof v === 'string') s = JSON.stringify(v.length > 100 ? `${v.slice(0, 100)}…` : v);
  else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === undefined) s = String(v);
  else if (v === null) s = 'null';
  else s = typeof v;
  budget.left -= s.length;
  return s;
}

/** A shape for a one-line message: `[2, 3, 4]`, or its first dims and the count when a hostile shape has many. */
export function dims(shape: readonly unknown[], max = 8): string {
  const head = shape.slice(0, max).map((d) => (typeof d === 'number' ? String(d) : show(d)));
  return shape.length > max ? `[${head.join(', ')}, … (${shape.length} dims)]` : `[${head.join(', ')}]`;
}

/** A JSON.parse error as one short line: V8 quotes the offending text, which may hold control characters. */
export function jsonError(e: unknown): string {
  // eslint-disable-next-line no-control-regex
  const m = (e instanceof Error ? e.message : String(e)).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return m.length > 100 ? `${m.slice(0, 100)}…` : m;
}
