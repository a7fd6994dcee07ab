/**
 * Base URL of the hubwerk connector backend.
 *
 * Do not edit by hand: `npm run set-backend-url -- https://connector.example.com` rewrites this
 * line together with `permittedUrls.fetch` and `auth.redirectUrls` in `src/app/app-hsmeta.json`
 * (HubSpot refuses `hubspot.fetch` calls to URLs that are not listed there).
 */
export const BACKEND_URL = 'https://hubwerk.example.com';
