// Shared set-up for the web chat's browser tests: Debian's headless chromium driven by
// playwright-core. Nothing may leave the machine: every request to another origin is fulfilled
// locally (the quick-exit destination, a council page for the embed) or aborted, and recorded.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHAT_URL = (process.env.CHAT_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const CHAT_ORIGIN = new URL(CHAT_URL).origin;
export const EXIT_URL = process.env.EXIT_URL || 'https://www.bbc.co.uk/weather';
export const COUNCIL_URL = 'https://www.northbrook.example/domestic-abuse'; // allowed by the example profile
export const OTHER_URL = 'https://not-allowed.example/page';
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'webchat');
export const AXE_PATH = join(ROOT, 'node_modules', 'axe-core', 'axe.min.js');
mkdirSync(ARTIFACTS, { recursive: true });
// The Rasa server's log (set by tests/test_webchat_browser.py): its forget channel writes one line,
// without the sender, each time it has deleted a tracker.
export const RASA_LOG = process.env.RASA_LOG || '';
const FORGOTTEN_LINE = "Conversation forgotten at the person's request";

export function forgetLogCount() {
  if (!RASA_LOG || !existsSync(RASA_LOG)) { return null; }
  return readFileSync(RASA_LOG, 'utf8').split(FORGOTTEN_LINE).length - 1;
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run'];

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ARGS });
}

const isLocal = (url) => /^(https?:\/\/127\.0\.0\.1(:\d+)?\/|data:|about:|blob:)/.test(url);

function hostPage(title, scriptUrl) {
  return `<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body><main><h1>${title}</h1><p>Council page.</p></main>` +
    (scriptUrl ? `<script src="${scriptUrl}" data-label="Chat with us"></script>` : '') + '</body></html>';
}

/** A browser context with a request log; other origins never reached. */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 900 }, ...options });
  const log = { requests: [], foreign: [] };
  // Chromium's Local Network Access check would stop a public council page from loading the chat
  // from 127.0.0.1; a real deployment is not on loopback. Grant it to the stand-in council pages.
  for (const url of [COUNCIL_URL, OTHER_URL]) {
    await context.grantPermissions(['local-network-access'], { origin: new URL(url).origin });
  }
  context.on('request', (req) => log.requests.push({ url: req.url(), method: req.method(), type: req.resourceType(),
    body: req.postData() }));
  await context.route((url) => !isLocal(url.href), async (route) => {
    const url = route.request().url();
    log.foreign.push(url);
    if (url === EXIT_URL || url.startsWith(EXIT_URL)) {
      return route.fulfill({ status: 200, contentType: 'text/html', body: hostPage('Weather') });
    }
    if (url.startsWith(COUNCIL_URL) || url.startsWith(OTHER_URL)) {
      return route.fulfill({ status: 200, contentType: 'text/html', body: hostPage('Council', `${CHAT_URL}/embed.js`) });
    }
    return route.abort('blockedbyclient');
  });
  context.log = log;
  return context;
}

export async function startChat(page) {
  await page.goto(CHAT_URL + '/');
  await page.getByRole('button', { name: 'Start chat' }).click();
  await waitForBotMessages(page, 1);
}

export async function waitForBotMessages(page, count) {
  await page.locator('#log .message--bot').nth(count - 1).waitFor({ timeout: 60_000 });
  await page.locator('#typing').waitFor({ state: 'hidden', timeout: 60_000 });
}

export async function sendMessage(page, text) {
  const before = await page.locator('#log .message--bot').count();
  await page.locator('#message').fill(text);
  await page.locator('#message').press('Enter');
  await waitForBotMessages(page, before + 1);
}

export async function chatState(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('chat') || 'null'));
}

/** Run axe-core (WCAG 2.0/2.1/2.2 A and AA rules) and save the full result. */
export async function axe(page, name) {
  // Scan from the top: the sticky "Exit this page" bar (required, as in GOV.UK's component) lies over
  // whatever content is scrolled beneath it, and axe's target-size rule then reports that content as
  // an overlapped target, so the result would depend on where the chat happened to scroll.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.addScriptTag({ path: AXE_PATH });
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
  }));
  const summary = {
    page: name,
    url: result.url,
    passes: result.passes.length,
    incomplete: result.incomplete.map((r) => ({ id: r.id, impact: r.impact, nodes: r.nodes.length })),
    violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })),
  };
  writeFileSync(join(ARTIFACTS, `axe-${name}.json`), JSON.stringify(summary, null, 2));
  return summary;
}

export async function screenshot(page, name) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.evaluate(() => window.scrollTo(0, 0)); // the sticky exit bar belongs at the top
  await page.screenshot({ path, fullPage: true });
  return path;
}
