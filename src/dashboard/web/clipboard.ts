/**
 * Copies text: the async Clipboard API where the page may use it (a secure context: https, or http on
 * localhost/127.0.0.1, with the user's permission), else a prompt with the text selected so Ctrl/⌘+C copies it.
 */
export async function copyText(text: string): Promise<'clipboard' | 'prompt'> {
  try {
    if (!navigator.clipboard) throw new Error('no Clipboard API here');
    await navigator.clipboard.writeText(text);
    return 'clipboard';
  } catch {
    window.prompt('Copy the id (Ctrl/⌘+C):', text);
    return 'prompt';
  }
}
