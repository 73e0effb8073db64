import { errorMessage } from '../../lib/errors.ts';
import { publicQuery } from './api.ts';
import { DashboardServerInfoQuery } from './operations.ts';
import { byId } from './view.ts';

/**
 * The banners above the page: the simulator warning and the API-key state. Both come from the public serverInfo,
 * read without the key, so a first visit to a server that needs a key already says so (and which backend it runs).
 */

/** What a keyless visitor of a server that needs a key is told, however the refusal came (HTTP 401, socket 4403). */
export const KEY_REQUIRED =
  'API key required: this server needs one. Enter it above. An operator creates one with: npm run keys -- create --tenant <tenant> --name <label>.';

export async function showServerInfo(hasKey: boolean): Promise<void> {
  try {
    const { serverInfo } = await publicQuery(DashboardServerInfoQuery);
    byId('simulator-banner').hidden = !serverInfo.simulated;
    document.body.dataset.backend = serverInfo.falBackend;
    document.body.dataset.authRequired = String(serverInfo.authRequired);
    byId('version').textContent = `v${serverInfo.version}`;
    if (serverInfo.authRequired && !hasKey) showAuthProblem(KEY_REQUIRED);
  } catch (error) {
    showAuthProblem(`Could not reach the server (${errorMessage(error)}). Check that it is running, then reload the page.`);
  }
}

export function showAuthProblem(text: string): void {
  const banner = byId('auth-banner');
  banner.textContent = text;
  banner.hidden = false;
  document.body.dataset.authProblem = 'true';
}

export function clearAuthProblem(): void {
  byId('auth-banner').hidden = true;
  delete document.body.dataset.authProblem;
}
