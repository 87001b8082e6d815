import { RequestMethod } from '@nestjs/common';

type RouteInfo = { path: string; method: RequestMethod };

/**
 * The routes the pages serve outside the global `/api/v1` prefix. main.ts passes them to
 * `setGlobalPrefix(..., { exclude })`; keeping the list here keeps it next to the controller.
 */
export const PAGE_ROUTES: RouteInfo[] = [
  { path: '/', method: RequestMethod.GET },
  // Exclusions are matched against every controller's declared path, and the REST API declares
  // `domains/:name` too: an exclusion `domains/:name` would move the API's route out of /api/v1.
  // So the page is declared as `domains/*name` and excluded by that literal text (escaped).
  { path: 'domains/\\*name', method: RequestMethod.GET },
  { path: 'login', method: RequestMethod.GET },
  { path: 'login', method: RequestMethod.POST },
  { path: 'logout', method: RequestMethod.POST },
  { path: 'assets/mxwatch.css', method: RequestMethod.GET },
  { path: 'assets/mxwatch.js', method: RequestMethod.GET },
];
