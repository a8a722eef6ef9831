// Quick exit in a real browser: by the button and by Shift x3, from the chat, from the safety page
// and from the embed. Each checks the destination, the forget call and its answer, the cleared tab
// storage, and that Back shows nothing of the conversation.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CHAT_URL, COUNCIL_URL, EXIT_URL, RASA_LOG, chatState, forgetLogCount, launch, newContext, sendMessage, startChat } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Watch /api/forget: the request (sent with sendBeacon), the gateway's answer when the browser
 * still reports it after leaving, and the Rasa forget channel's own log line. */
function watchForget(context) {
  const seen = { requests: [], answers: [], logBefore: forgetLogCount() };
  context.on('request', (req) => {
    if (req.url().endsWith('/api/forget')) { seen.requests.push({ method: req.method(), body: req.postData(), type: req.resourceType() }); }
  });
  context.on('response', (res) => {
    if (res.url().endsWith('/api/forget')) { seen.answers.push(res.status()); }
  });
  return seen;
}

async function forgotten(seen, sender) {
  assert.equal(seen.requests.length, 1, 'forget called once');
  assert.equal(seen.requests[0].method, 'POST');
  assert.deepEqual(JSON.parse(seen.requests[0].body), { sender });
  // The tracker is gone on the server: Rasa's forget channel logs this line only after deleting it
  // (and the gateway answers 200 only after Rasa confirmed; 503 otherwise).
  if (RASA_LOG) {
    let count = forgetLogCount();
    for (let i = 0; i < 100 && count <= seen.logBefore; i++) {
      await new Promise((r) => setTimeout(r, 100));
      count = forgetLogCount();
    }
    assert.equal(count, seen.logBefore + 1, 'Rasa deleted the tracker');
  } else {
    console.log('# RASA_LOG not set: the tracker deletion is checked by the gateway status only');
  }
  for (let i = 0; i < 30 && !seen.answers.length; i++) { await new Promise((r) => setTimeout(r, 100)); }
  assert.ok(seen.answers.every((status) => status === 200), `forget answered ${seen.answers}`);
}

/** The destination is reached (polling: a replaced navigation may report ERR_ABORTED first). */
async function waitForExit(page) {
  for (let i = 0; i < 150 && page.url() !== EXIT_URL; i++) { await page.waitForTimeout(100); }
  assert.equal(page.url(), EXIT_URL, 'lands on the profile destination');
  await page.waitForLoadState('load');
}

async function conversation(page) {
  await startChat(page);
  await sendMessage(page, 'Secret words 4711');
  const { sender } = await chatState(page);
  return sender;
}

async function assertNoConversation(page) {
  const text = await page.locator('body').innerText();
  assert.doesNotMatch(text, /Secret words 4711/);
  assert.equal(await page.locator('#log .message').count(), 0);
  const stored = await page.evaluate(() => (location.origin.startsWith('http://127.0.0.1') ? sessionStorage.length : 0));
  assert.equal(stored, 0, 'tab storage is empty');
}

for (const how of ['button', 'shift']) {
  test(`quick exit by ${how === 'button' ? 'the button' : 'pressing Shift 3 times'}`, async () => {
    const context = await newContext(browser);
    const seen = watchForget(context);
    const page = await context.newPage();
    await page.goto(CHAT_URL + '/safety');        // an earlier page in this tab's history
    const sender = await conversation(page);
    const historyBefore = await page.evaluate(() => history.length);

    if (how === 'button') {
      await page.getByRole('button', { name: 'Emergency Exit this page' }).click();
    } else {
      await page.locator('#message').focus();     // works while typing in the message box
      await page.keyboard.press('Shift');
      assert.equal(await page.locator('#exit-status').textContent(), 'Shift, press 2 more times to exit.');
      await page.keyboard.press('Shift');
      assert.equal(await page.locator('#exit-status').textContent(), 'Shift, press 1 more time to exit.');
      await page.keyboard.press('Shift');
    }
    await waitForExit(page);
    assert.equal(page.url(), EXIT_URL, 'lands on the profile destination');
    assert.equal(await page.evaluate(() => history.length), historyBefore, 'the chat entry was replaced, not added to');
    await forgotten(seen, sender);

    await page.goBack();
    await page.waitForURL(CHAT_URL + '/safety');
    await assertNoConversation(page);
    await page.goto(CHAT_URL + '/');
    assert.equal(await page.locator('#start').isVisible(), true, 'a fresh start screen');
    await assertNoConversation(page);
    assert.deepEqual(await context.cookies(), []);
    await context.close();
  });
}

test('Shift count: announcements, reset by another key, by 5 seconds, not by capitals or Shift+Tab', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await startChat(page);
  const status = page.locator('#exit-status');
  const indicator = page.locator('#exit-indicator');
  const box = page.locator('#message');
  await box.focus();

  await page.keyboard.press('Shift');
  await page.keyboard.press('Shift');
  assert.equal(await indicator.locator('.is-on').count(), 2);
  await page.keyboard.press('a');                 // any other key resets
  assert.equal(await status.textContent(), '');
  assert.equal(await indicator.isHidden(), true);
  await page.keyboard.press('Shift');
  assert.equal(await status.textContent(), 'Shift, press 2 more times to exit.', 'counting starts again at 1');

  await page.keyboard.press('Shift');
  await page.waitForTimeout(5300);                // 5 seconds without a press
  assert.equal(await status.textContent(), 'Exit this page expired.');
  assert.equal(await indicator.isHidden(), true);

  await box.fill('');
  for (let i = 0; i < 3; i++) { await page.keyboard.press('Shift+KeyA'); }
  for (let i = 0; i < 3; i++) { await page.keyboard.press('Shift+Tab'); }
  assert.equal(page.url(), CHAT_URL + '/', 'capitals and Shift+Tab do not exit');
  assert.equal(await page.locator('#exit-overlay').isHidden(), true);

  await page.keyboard.press('Shift');
  await page.keyboard.press('Shift');
  await page.keyboard.press('Shift');
  await waitForExit(page);
  await context.close();
});

test('overlay covers the page at once, in the same moment as the click', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await startChat(page);
  // Inspect the page in the same task as the click: before any navigation can happen.
  const overlay = await page.evaluate(() => {
    document.getElementById('exit-button').click();
    const o = document.getElementById('exit-overlay');
    const r = o.getBoundingClientRect();
    return { hidden: o.hidden, w: r.width, h: r.height, bg: getComputedStyle(o).backgroundColor,
      messages: document.querySelectorAll('#log .message').length, stored: sessionStorage.length };
  });
  assert.equal(overlay.hidden, false);
  assert.equal(overlay.bg, 'rgb(255, 255, 255)');
  assert.ok(overlay.w >= 1280 && overlay.h >= 900, 'covers the viewport');
  assert.equal(overlay.messages, 0, 'conversation removed from the page');
  assert.equal(overlay.stored, 0, 'tab storage cleared');
  await waitForExit(page);
  await context.close();
});

test('exit from the safety page, then Back to the chat page: start screen, nothing of the conversation', async () => {
  const context = await newContext(browser);
  const seen = watchForget(context);
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.addEventListener('pageshow', (e) => { if (e.persisted) { sessionStorage.setItem('bfcache-restores', '1'); } });
  });
  const sender = await conversation(page);
  await page.getByRole('link', { name: 'Staying safe online' }).first().click();
  await page.waitForURL(CHAT_URL + '/safety');
  await page.getByRole('button', { name: 'Emergency Exit this page' }).click();
  await waitForExit(page);
  await forgotten(seen, sender);

  await page.goBack();                            // the chat page: from the bfcache or reloaded
  await page.waitForURL(CHAT_URL + '/');
  await page.waitForLoadState('load');
  await page.locator('#start').waitFor();
  await assertNoConversation(page);
  await context.close();
});

test('embed: a council page opens the chat; quick exit replaces the council page', async () => {
  const context = await newContext(browser);
  const seen = watchForget(context);
  const page = await context.newPage();
  await page.goto(CHAT_URL + '/safety');          // an earlier page in this tab's history
  await page.goto(COUNCIL_URL);
  await page.getByRole('button', { name: 'Chat with us' }).click();
  const frame = page.frameLocator('iframe[title="Chat with us"]');
  await frame.getByRole('button', { name: 'Start chat' }).click();
  await frame.locator('#log .message--bot').first().waitFor({ timeout: 60_000 });
  await frame.locator('#message').fill('Secret words 4711');
  await frame.locator('#message').press('Enter');
  await frame.locator('#log .message--bot').nth(1).waitFor({ timeout: 60_000 });
  // Third-party storage may be refused in a frame; the chat then keeps its state in memory only.
  const turns = context.log.requests.filter((r) => r.url.endsWith('/webhooks/rest/webhook'));
  const sender = JSON.parse(turns.at(-1).body).sender;
  assert.ok(turns.every((t) => JSON.parse(t.body).sender === sender));

  await frame.getByRole('button', { name: 'Emergency Exit this page' }).click();
  await waitForExit(page);
  await forgotten(seen, sender);
  await page.goBack();                            // the council page was replaced, not kept
  await page.waitForURL(CHAT_URL + '/safety');
  assert.doesNotMatch(await page.locator('body').innerText(), /Secret words/);
  assert.equal(await page.locator('iframe').count(), 0);
  await context.close();
});

test('embed: Shift x3 with focus on the council page also exits, and the chat forgets first', async () => {
  const context = await newContext(browser);
  const seen = watchForget(context);
  const page = await context.newPage();
  await page.goto(CHAT_URL + '/safety');
  await page.goto(COUNCIL_URL);
  await page.getByRole('button', { name: 'Chat with us' }).click();
  const frame = page.frameLocator('iframe[title="Chat with us"]');
  await frame.getByRole('button', { name: 'Start chat' }).click();
  await frame.locator('#log .message--bot').first().waitFor({ timeout: 60_000 });
  const turns = context.log.requests.filter((r) => r.url.endsWith('/webhooks/rest/webhook'));
  const sender = JSON.parse(turns.at(-1).body).sender;

  await page.locator('h1').click();               // focus back on the council's page
  await page.keyboard.press('Shift');
  assert.equal(await page.getByRole('status').textContent(), 'Shift, press 2 more times to exit.');
  await page.keyboard.press('Shift');
  await page.keyboard.press('Shift');
  await waitForExit(page);
  await forgotten(seen, sender);
  await context.close();
});
