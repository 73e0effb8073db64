/**
 * Every secret a test hands out (API keys, fal keys). Test servers scan their log output for all of them
 * when they are disposed, so a key that reaches a log anywhere in the run fails the test that leaked it.
 */
const secrets = new Set<string>();

export function registerSecret(secret: string): string {
  secrets.add(secret);
  return secret;
}

/** Throws naming where a registered secret (or the secret part of an API key) appears in `text`. */
export function assertNoSecrets(text: string, where: string): void {
  for (const secret of secrets) {
    // An API key's first 10 characters are its public prefix (shown in lists); the rest must never appear.
    const needles = secret.startsWith('rg_') ? [secret, secret.slice(10)] : [secret];
    for (const needle of needles) {
      if (text.includes(needle)) throw new Error(`a secret (${secret.slice(0, 6)}…) appears in ${where}`);
    }
  }
}
