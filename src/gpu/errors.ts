/** Every failure the runtime reports is a GpuError with a kind, so callers can branch without parsing text. */
export type GpuErrorKind = 'unsupported' | 'limit' | 'validation' | 'out-of-memory' | 'internal' | 'device-lost' | 'shape';

export class GpuError extends Error {
  constructor(
    message: string,
    readonly kind: GpuErrorKind,
  ) {
    super(message);
    this.name = 'GpuError';
  }
}
