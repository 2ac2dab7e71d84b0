// Uses a /graphql page's GraphiQL explorer the way a person would, in Debian's chromium driven by
// playwright-core (never a browser of its own): opens the page, waits for the editor, types a
// query (and, if given, request headers into the Headers tab), runs it and reads the result
// shown. Prints one JSON object: every request the page made (and any it tried to make outside
// 127.0.0.1, which are refused), the response pane's text, errors the page logged, and a
// screenshot's path. Exits 1 if the result never showed, 2 on bad usage.
// Run by tests/e2e/test_explorer.py; usage: node explorer.mjs '<json>' with
//   {"url": ..., "query": ..., "headers": {...} | null, "waitFor": "<text>", "screenshot": path,
//    "timeoutMs": 30000}
import { chromium } from 'playwright-core';

const [arg] = process.argv.slice(2);
if (!arg) {
  console.error("usage: node explorer.mjs '{\"url\": ..., \"query\": ..., \"waitFor\": ...}'");
  process.exit(2);
}
const { url, query, headers, waitFor, screenshot, timeoutMs } = JSON.parse(arg);
const TIMEOUT = timeoutMs ?? 30_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const report = { requests: [], refused: [], failed: [], errors: [], result: null, screenshot };
const local = (address) => {
  const { protocol, hostname } = new URL(address);
  return protocol === 'data:' || protocol === 'blob:' || hostname === '127.0.0.1';
};
const text = (selector) =>
  document.querySelector(selector)?.innerText.replaceAll('\u00a0', ' ') ?? '';

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  // Every request of the page and of its workers passes here: anything not on 127.0.0.1 is
  // recorded and refused, so the test sees it and the page cannot quietly depend on it.
  await context.route('**/*', (route) => {
    const address = route.request().url();
    if (local(address)) return route.continue();
    report.refused.push(address);
    return route.abort('blockedbyclient');
  });
  context.on('request', (request) => report.requests.push(`${request.method()} ${request.url()}`));
  context.on('requestfailed', (request) => report.failed.push(request.url()));
  context.on('response', (response) => {
    if (response.status() >= 400 && response.request().method() === 'GET') {
      report.failed.push(`${response.status()} ${response.url()}`);
    }
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => report.errors.push(error.message));

  await page.goto(url);
  const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
  await editor.waitFor({ timeout: TIMEOUT });
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(query);
  if (headers) {
    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    const tool = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .monaco-editor');
    await tool.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.insertText(JSON.stringify(headers));
  }
  report.typed = await page.evaluate(text, '.graphiql-query-editor .view-lines');
  await page.locator('.graphiql-execute-button').click();
  await page.waitForFunction(
    ([selector, wanted]) =>
      document.querySelector(selector)?.innerText.replaceAll('\u00a0', ' ').includes(wanted),
    ['.graphiql-response', waitFor],
    { timeout: TIMEOUT },
  );
  report.result = await page.evaluate(text, '.graphiql-response .view-lines');
} catch (error) {
  report.errors.push(`driver: ${error.message}`);
  process.exitCode = 1;
} finally {
  const [page] = browser.contexts()[0]?.pages() ?? [];
  if (page && screenshot) await page.screenshot({ path: screenshot }).catch(() => {});
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + '\n');
