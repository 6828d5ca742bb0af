/**
 * Errors of the Docker pull client. They extend the domain base class so the CLI's single error
 * translation (message + rc 1) handles them; `data.reference` names the image that failed.
 */
import { RegistryError } from '../errors.js';

export class ImageReferenceError extends RegistryError {
  constructor(reference: string, reason: string) {
    super('InvalidImageReference', `Invalid image reference "${reference}": ${reason}`, { reference });
  }
}

export class ImagePullError extends RegistryError {
  constructor(reference: string, message: string, data?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('ImagePullFailed', `Pulling ${reference}: ${message}`, { reference, ...data }, options);
  }
}

/** The bytes a registry sent do not hash to the digest that names them. Never retried. */
export class DigestMismatchError extends ImagePullError {
  constructor(reference: string, what: string, expected: string, actual: string) {
    super(reference, `${what} digest mismatch: expected ${expected}, got ${actual}`, { expected, actual });
  }
}
