/**
 * Who is asking: the tenant of the API key (or `default` when the server runs open on loopback). An admin
 * key sees every tenant's generations; what it creates still belongs to its own tenant.
 */
export interface Caller {
  tenantId: string;
  admin?: boolean;
}

/** The row filter for what a caller may see: its own tenant, or everything for an admin. */
export function visibleTo(caller: Caller): { tenantId?: string } {
  return caller.admin ? {} : { tenantId: caller.tenantId };
}

/** The tenant of an open (keyless, loopback) server and of keys created without one. */
export const DEFAULT_TENANT = 'default';
