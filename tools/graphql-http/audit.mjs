// Runs the GraphQL-over-HTTP conformance audit of graphql-http (auditServer: the spec's MUST,
// SHOULD and MAY rules) against one endpoint and prints one JSON line per audit. A failed MUST is
// an "error", a failed SHOULD a "warn", a failed MAY a "notice". Exits 1 when any audit warns or
// errs, 2 on bad usage. AUDIT_AUTHORIZATION, when set, is sent as the Authorization header of
// every request (the command endpoint refuses requests without a bearer token before anything
// the audit looks at). Run by tests/e2e/test_graphql_over_http.py.
import { auditServer } from 'graphql-http';

const [url] = process.argv.slice(2);
if (!url) {
  console.error('usage: [AUDIT_AUTHORIZATION="Bearer <jwt>"] node audit.mjs <url>');
  process.exit(2);
}

const authorization = process.env.AUDIT_AUTHORIZATION;
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (authorization) headers.set('authorization', authorization);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
for (const { id, name, status, reason, response } of results) {
  const line = { id, name, status };
  if (status !== 'ok') {
    line.reason = reason;
    line.httpStatus = response.status;
    line.contentType = response.headers.get('content-type');
    line.body = await response.text().catch(() => null);
  }
  process.stdout.write(JSON.stringify(line) + '\n');
}
process.exitCode = results.some((r) => r.status === 'warn' || r.status === 'error') ? 1 : 0;
