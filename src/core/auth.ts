/** Who is calling, as every service sees it once a token is validated. */
export interface AuthContext {
  userId: string
  userName: string
  userDomainId: string
  userDomainName: string
  /** Project scope. */
  projectId?: string
  projectName?: string
  projectDomainId?: string
  projectDomainName?: string
  /** Domain scope. */
  domainId?: string
  domainName?: string
  /** System scope. */
  system?: 'all'
  roles: { id: string; name: string }[]
  isAdminProject: boolean
  methods: string[]
  auditIds: string[]
  issuedAt: number
  expiresAt: number
  applicationCredentialId?: string
}

/** Validates a token for a service; in-process in all-in-one, over the identity API when split. */
export interface TokenValidator {
  validate(token: string): Promise<AuthContext>
}

export function hasRole(ctx: AuthContext | undefined, name: string): boolean {
  return !!ctx && ctx.roles.some((r) => r.name === name)
}
