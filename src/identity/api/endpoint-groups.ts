import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'

// PLACEHOLDER being replaced by the engineer who owns this file; registers nothing yet.
export function endpointGroupRoutes(_api: Api, _c: IdentityCtx): void {}
