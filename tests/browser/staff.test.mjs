// The staff dashboard in headless Chromium: the sign-in form posts (the page sends
// `Referrer-Policy: no-referrer`, so the browser's Origin is `null` and the gateway relies on
// `Sec-Fetch-Site: same-origin`), password + TOTP, the queue, a record, a claim through the real
// form (CSRF token in a hidden field), a tampered token refused, sign-out; and no CSP violation.
//
// Run by tests/test_staff_e2e.py, which creates the account and a booking on the stack and passes:
//   STAFF_URL, STAFF_USER, STAFF_PASSWORD, STAFF_TOTP_SECRET (base32), STAFF_REFERENCE.
// Without them (for example when the web chat wrapper runs the whole folder) the tests are skipped.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { launch, screenshot } from './helpers.mjs';

const STAFF_URL = (process.env.STAFF_URL || '').replace(/\/$/, '');
const { STAFF_USER, STAFF_PASSWORD, STAFF_TOTP_SECRET, STAFF_REFERENCE } = process.env;
const skip = !(STAFF_URL && STAFF_USER && STAFF_PASSWORD && STAFF_TOTP_SECRET && STAFF_REFERENCE)
  ? 'needs STAFF_* from tests/test_staff_e2e.py' : false;

/** RFC 4648 base32 (no padding needed) to bytes. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0; let value = 0; const out = [];
  for (const ch of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(ch);
    if (index < 0) { throw new Error('bad base32'); }
    value = (value << 5) | index; bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP (HMAC-SHA1, 30-second steps, 6 digits), as pyotp computes it. */
export function totp(secret, seconds = Date.now() / 1000, step = 30, digits = 6) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(seconds / step)));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(binary).padStart(digits, '0');
}

test('the TOTP helper matches the RFC 6238 test vector', () => {
  // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", T = 59 s: 94287082 (8 digits).
  const seed = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // base32 of the ASCII seed
  assert.equal(totp(seed, 59, 30, 8), '94287082');
  assert.equal(totp(seed, 1111111109, 30, 8), '07081804');
});

let browser;
before(async () => { if (!skip) { browser = await launch(); } });
after(async () => { await browser?.close(); });

function watch(page) {
  const problems = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to (load|apply|execute|frame)/i.test(text) || msg.type() === 'error') {
      problems.push(`console ${msg.type()}: ${text}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss(); });
  return problems;
}

test('sign in with password and TOTP, see the queue, claim through the form, CSRF, sign out', { skip }, async () => {
  // A plain context: with request interception (helpers.newContext) Playwright cannot see the
  // headers Chromium adds below the page (Fetch Metadata), which this test checks. Staff pages load
  // nothing from elsewhere (CSP default-src 'none'); every request is recorded and checked instead.
  const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 900 } });
  const requested = [];
  context.on('request', (req) => requested.push(req.url()));
  // Any CSP violation the page itself reports (init scripts run through DevTools, outside the CSP).
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  const problems = watch(page);
  const violations = async () => page.evaluate(() => window.__cspViolations || []);
  // The headers Chromium really sent (Fetch Metadata is added below the page, so read them once the
  // response has arrived).
  const postRequests = [];
  page.on('request', (req) => { if (req.method() === 'POST') { postRequests.push(req); } });
  const sent = async (suffix) => {
    const req = postRequests.filter((r) => r.url().endsWith(suffix)).at(-1);
    assert.ok(req, `a POST to ${suffix}`);
    await req.response();
    return req.allHeaders();
  };

  // Not signed in: the dashboard sends you to the sign-in page and shows no data.
  let response = await page.goto(STAFF_URL + '/staff/');
  assert.equal(new URL(page.url()).pathname, '/staff/login');
  assert.equal(response.headers()['referrer-policy'], 'no-referrer');
  assert.match(response.headers()['content-security-policy'], /frame-ancestors 'none'/);
  assert.doesNotMatch(response.headers()['content-security-policy'], /script-src|unsafe-inline/);
  assert.equal(response.headers()['cache-control'], 'no-store');
  assert.equal(await page.locator('script').count(), 0, 'no script on staff pages');

  // A wrong password first: the generic message, and what Chromium sends from this page (headers of
  // a redirected request are not all visible to Playwright, so they are checked on this 401).
  await page.getByLabel('User name').fill(STAFF_USER);
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByLabel('6-digit code from your authenticator app').fill('000000');
  response = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/staff/login') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Sign in' }).click()]).then(([r]) => r);
  assert.equal(response.status(), 401);
  await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor();
  const failed = await sent('/staff/login');
  assert.equal(failed.origin, 'null', 'Referrer-Policy: no-referrer makes the form origin opaque');
  assert.equal(failed['sec-fetch-site'], 'same-origin');
  assert.equal(failed.referer, undefined);

  await page.getByLabel('User name').fill(STAFF_USER);
  await page.getByLabel('Password').fill(STAFF_PASSWORD);
  await page.getByLabel('6-digit code from your authenticator app').fill(totp(STAFF_TOTP_SECRET));
  await Promise.all([page.waitForURL(STAFF_URL + '/staff/'), page.getByRole('button', { name: 'Sign in' }).click()]);

  assert.equal((await sent('/staff/login')).origin, 'null');

  // The session cookie: __Host-, Secure, HttpOnly, SameSite=Strict, host-only, not persistent.
  const cookies = await context.cookies(STAFF_URL);
  const session = cookies.find((c) => c.name === '__Host-staff');
  assert.ok(session, 'session cookie set');
  assert.equal(session.secure, true);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/');
  assert.equal(session.expires, -1, 'a session cookie');
  assert.equal(await page.evaluate(() => document.cookie), '', 'not readable from the page');

  // The queue, with the booking made through the chat; no personal data in the list.
  await page.getByRole('heading', { name: 'Callback queue' }).waitFor();
  assert.match(await page.locator('header .who').textContent(), new RegExp(STAFF_USER));
  const link = page.getByRole('link', { name: STAFF_REFERENCE });
  await link.waitFor();
  await screenshot(page, 'staff-queue');

  // Open it: the record page with the safe-call instructions.
  await Promise.all([page.waitForURL(/\/staff\/records\/\d+$/), link.click()]);
  const safeCall = page.locator('section.safe-call');
  await safeCall.getByRole('heading', { name: 'Before you call' }).waitFor();
  assert.match(await safeCall.textContent(), /Do not leave a voicemail/);
  assert.match(await safeCall.textContent(), /Hang up without saying who you are/);

  // A tampered CSRF token is refused (403) and changes nothing.
  const recordUrl = page.url();
  await page.evaluate(() => {
    document.querySelector('form[action$="/claim"] input[name=csrf]').value = 'forged';
  });
  response = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/claim')),
    page.getByRole('button', { name: 'Claim' }).click()]).then(([r]) => r);
  assert.equal(response.status(), 403);
  const forged = await sent('/claim');
  assert.equal(forged.origin, 'null');
  assert.equal(forged['sec-fetch-site'], 'same-origin', 'refused for the token, not the origin');
  await page.goto(recordUrl);
  assert.match(await page.locator('#status-h + p').textContent(), /^\s*New/);

  // The real form (with its token) claims it.
  await Promise.all([page.waitForURL(recordUrl), page.getByRole('button', { name: 'Claim' }).click()]);
  assert.match(await page.locator('#status-h + p').textContent(), new RegExp(`claimed by\\s+${STAFF_USER}`));
  assert.equal((await sent('/claim')).origin, 'null');
  await page.getByRole('button', { name: 'Release' }).click();
  await page.waitForURL(recordUrl);

  // Sign out: back to the sign-in page, the cookie gone, the dashboard closed again.
  await Promise.all([page.waitForURL(STAFF_URL + '/staff/login'), page.getByRole('button', { name: 'Sign out' }).click()]);
  assert.equal((await context.cookies(STAFF_URL)).find((c) => c.name === '__Host-staff'), undefined);
  await page.goto(STAFF_URL + '/staff/');
  assert.equal(new URL(page.url()).pathname, '/staff/login');

  assert.deepEqual(await violations(), [], 'no CSP violation reported by the page');
  // Control: the detector does see a violation (an inline style, refused by style-src 'self').
  await page.evaluate(() => { const s = document.createElement('style'); s.textContent = 'body{}'; document.head.append(s); });
  await page.waitForFunction(() => window.__cspViolations.length > 0);
  assert.match((await violations())[0], /^style-src/);
  // The refused sign-in (401) and the forged token (403) are logged by Chromium as failed loads.
  const expected = /^console error: Failed to load resource: the server responded with a status of 40[13] /;
  assert.deepEqual(problems.filter((p) => !expected.test(p) && !/inline style/.test(p)), [],
    'no console errors or CSP reports');
  assert.deepEqual(requested.filter((url) => new URL(url).origin !== new URL(STAFF_URL).origin), [],
    'nothing requested from another origin');
  await context.close();
});
