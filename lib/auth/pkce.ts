/**
 * PKCE (RFC 7636) and the random values of a browser login, sized as codex
 * sizes them (`login/src/pkce.rs`, `server.rs`): a 64-byte verifier, its
 * S256 challenge, a 32-byte `state` — all base64url without padding.
 *
 * @module
 */

/**
 * Bytes as base64url without padding (RFC 4648 §5).
 *
 * @example
 * ```ts
 * base64url(new Uint8Array([251, 255])); // "-_8"
 * ```
 */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** `n` random bytes (from the OS CSPRNG) as base64url. */
export function randomBase64url(n: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** A PKCE pair. The verifier is a secret: register it, never log it. */
export interface PkcePair {
  /** 86 characters: 64 random bytes, base64url. */
  verifier: string;
  /** `BASE64URL(SHA-256(verifier))`, 43 characters. */
  challenge: string;
}

/**
 * The S256 challenge of a verifier (RFC 7636 §4.2).
 *
 * @example
 * ```ts
 * await s256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
 * // "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
 * ```
 */
export async function s256Challenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** A fresh PKCE pair, as codex makes it (64-byte verifier, S256). */
export async function generatePkce(): Promise<PkcePair> {
  const verifier = randomBase64url(64);
  return { verifier, challenge: await s256Challenge(verifier) };
}

/** A fresh `state` (32 random bytes, base64url: 43 characters). */
export function randomState(): string {
  return randomBase64url(32);
}
