// The web chat in a real browser: a conversation, storage, cookies, origins, errors, emergency.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CHAT_ORIGIN, CHAT_URL, chatState, launch, newContext, sendMessage, startChat, waitForBotMessages } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a conversation through the page, state only in this tab, text shown as text', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });

  await page.goto(CHAT_URL + '/');
  assert.equal(await page.title(), 'Help and advice', 'neutral title from the profile');
  assert.equal(await page.locator('link[rel=icon]').getAttribute('href'), '/static/favicons/neutral.svg');
  assert.equal(await chatState(page), null, 'nothing stored before the chat starts');

  await page.getByRole('button', { name: 'Start chat' }).click();
  await waitForBotMessages(page, 1);
  await assert.doesNotReject(page.locator('#message').waitFor());
  assert.equal(await page.evaluate(() => document.activeElement.id), 'message', 'focus moves to the message box');

  const state = await chatState(page);
  assert.match(state.sender, /^[0-9a-f]{32}$/, 'random 32-hex sender id');
  const turns = context.log.requests.filter((r) => r.url.endsWith('/webhooks/rest/webhook'));
  assert.equal(JSON.parse(turns[0].body).sender, state.sender);

  // Quick replies: the title is shown, the payload is sent.
  const quick = page.locator('#quick-replies button');
  if (await quick.count()) {
    const title = (await quick.first().textContent()).trim();
    const bots = await page.locator('#log .message--bot').count();
    await quick.first().click();
    await waitForBotMessages(page, bots + 1);
    assert.equal((await page.locator('#log .message--user').last().textContent()).replace('You said: ', ''), title);
    const sent = JSON.parse(context.log.requests.filter((r) => r.url.endsWith('/webhooks/rest/webhook')).at(-1).body);
    assert.match(sent.message, /^\//, 'the payload, not the title, goes to the bot');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'message', 'focus is not lost when the buttons go');
  }

  // Typed text, including markup, is shown as text and never run.
  const markup = '<img src=x onerror="alert(1)"><b>bold</b> thanks';
  await sendMessage(page, markup);
  const mine = page.locator('#log .message--user').last();
  assert.equal(await mine.locator('.message-text').textContent(), markup);
  assert.equal(await page.locator('#log img, #log b, #log script').count(), 0);
  assert.deepEqual(dialogs, []);

  // Live region for the messages.
  assert.equal(await page.locator('#log').getAttribute('role'), 'log');
  assert.equal(await page.locator('#log').getAttribute('aria-live'), 'polite');

  // No message text is ever stored on the device: sessionStorage holds the conversation id and
  // flags only, so a reload (or a tab the browser reopens) carries on without showing what was said.
  const stored = await page.evaluate(() => sessionStorage.getItem('chat'));
  assert.doesNotMatch(stored, /bold|thanks|img/, 'no message text in storage');
  assert.deepEqual(Object.keys(JSON.parse(stored)).sort(), ['emergency', 'sender', 'started', 'v']);
  await page.reload();
  assert.equal(await page.locator('#log .message').count(), 0, 'earlier messages are not shown again');
  assert.match(await page.locator('#log .resumed-note').textContent(), /not shown here, to keep them private/);
  assert.equal(await page.locator('#start').isHidden(), true);
  assert.equal((await chatState(page)).sender, state.sender, 'the same conversation carries on');
  await sendMessage(page, 'thank you');
  const afterReload = JSON.parse(context.log.requests.filter((r) => r.url.endsWith('/webhooks/rest/webhook')).at(-1).body);
  assert.equal(afterReload.sender, state.sender);
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'no localStorage');
  assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie');

  // Another tab is another conversation: sessionStorage belongs to a tab.
  const other = await context.newPage();
  await other.goto(CHAT_URL + '/');
  assert.equal(await other.locator('#start').isVisible(), true);
  assert.equal(await chatState(other), null);

  assert.deepEqual(await context.cookies(), [], 'no cookie was ever set');
  await context.close();
});

test('no request to any origin but the page\'s own over a whole conversation', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await startChat(page);
  await sendMessage(page, 'hello');
  await sendMessage(page, 'what can you help with');
  await page.getByRole('link', { name: 'Staying safe online' }).first().click();
  await page.waitForURL(CHAT_URL + '/safety');
  await page.goBack();
  await page.locator('#log .resumed-note, #log .message').first().waitFor();
  await sendMessage(page, 'thank you');
  const origins = [...new Set(context.log.requests.map((r) => new URL(r.url).origin))];
  assert.deepEqual(origins, [CHAT_ORIGIN], `requests went to: ${origins.join(', ')}`);
  assert.deepEqual(context.log.foreign, []);
  const kinds = [...new Set(context.log.requests.map((r) => r.type))].sort();
  console.log(`# ${context.log.requests.length} requests, all to ${CHAT_ORIGIN} (${kinds.join(', ')})`);
  assert.deepEqual(await context.cookies(), []);
  await context.close();
});

test('emergency reply shows a banner with 999 and the Silent Solution that stays', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await startChat(page);
  assert.equal(await page.locator('#emergency').isHidden(), true);
  await sendMessage(page, '/emergency');
  const banner = page.locator('#emergency');
  await banner.waitFor();
  const text = await banner.textContent();
  assert.match(text, /999/);
  assert.match(text, /press 55/);
  assert.match(text, /Silent Solution/);
  await sendMessage(page, 'thank you');
  assert.equal(await banner.isVisible(), true, 'persistent for the rest of the conversation');
  await page.reload();
  assert.equal(await page.locator('#emergency').isVisible(), true, 'and after a reload');
  await context.close();
});

test('network failure: offline message with 999 and the helpline, then retry', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await startChat(page);
  await page.route('**/webhooks/rest/webhook', (route) => route.abort('internetdisconnected'));
  await page.locator('#message').fill('hello again');
  await page.locator('#message').press('Enter');
  const offline = page.locator('#offline');
  await offline.waitFor();
  const text = await offline.textContent();
  assert.match(text, /999/);
  assert.match(text, /0808 2000 247/);
  assert.equal(await offline.getAttribute('role'), 'alert');
  const bots = await page.locator('#log .message--bot').count();
  await page.unroute('**/webhooks/rest/webhook');
  await page.getByRole('button', { name: 'Try again' }).click();
  await waitForBotMessages(page, bots + 1);
  assert.equal(await offline.isHidden(), true);
  assert.equal(await page.locator('#log .message--user').count(), 1, 'the retried message is shown once');
  await context.close();
});
