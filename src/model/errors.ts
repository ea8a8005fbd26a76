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
export function quote(name: string): string {
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
}

/** A value shown in a one-line message, clipped so a hostile file cannot produce a huge message. */
export function show(value: unknown): string {
  let s: string;
  try {
    s = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
