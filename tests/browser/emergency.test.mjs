// The emergency moment in a real browser (issue 15), at 320, 375 and 1280 px wide:
// - after an emergency reply, typed or by the "I'm in danger now" button, the first emergency
//   message and a tel:999 link are inside the viewport without scrolling;
// - every phone number in a bot message is a tel: link, and no number wraps inside itself;
// - the embed on an origin the profile does not allow, or whose frame never loads, shows a
//   fallback panel with 999 and the helpline, and its exit goes to the configured exit site.
// Screenshots of what is in view go to test-artifacts/webchat/.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, CHAT_URL, COUNCIL_URL, EXIT_URL, OTHER_URL, launch, newContext, sendMessage, startChat, waitForBotMessages } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const VIEWPORTS = [
  { width: 320, height: 568 },
  { width: 375, height: 740 },
  { width: 1280, height: 800 },
];

// The same rule as chat.js: 999, 111, 116 123 and 0-numbers of 8 to 11 digits in groups.
const PHONE = /(?:^|[^\d\w])((?:999|111|116 ?\d{3}|0\d{2,4}(?: ?\d{2,4}){1,3}))(?![\d\w])/g;

async function inViewport(page, locator) {
  const box = await locator.boundingBox();
  const view = page.viewportSize();
  return Boolean(box) && box.y >= 0 && box.y + box.height <= view.height && box.x >= 0
    && box.x + box.width <= view.width;
}

async function assertEmergencyInView(page, name) {
  await page.locator('#emergency').waitFor();
  const first = page.locator('#log .message--emergency').last();
  await first.waitFor();
  assert.match(await first.textContent(), /999/);
  await page.waitForTimeout(300);                       // let any scrolling settle
  const box = await first.boundingBox();
  const bar = await page.locator('.exit-bar').boundingBox();
  const view = page.viewportSize();
  assert.ok(box.y >= bar.y + bar.height - 1, `${name}: the first emergency message is not under the sticky bar (${box.y} < ${bar.y + bar.height})`);
  assert.ok(box.y + box.height <= view.height, `${name}: the first emergency message is below the fold (${box.y + box.height} > ${view.height})`);
  const call = page.locator('a[href="tel:999"]:visible');
  let seen = 0;
  for (let i = 0; i < await call.count(); i++) {
    if (await inViewport(page, call.nth(i))) { seen += 1; }
  }
  assert.ok(seen >= 1, `${name}: a tel:999 link is in view`);
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });    // what the person sees
}

for (const viewport of VIEWPORTS) {
  test(`emergency reply typed at ${viewport.width} px: 999 in view`, async () => {
    const context = await newContext(browser, { viewport });
    const page = await context.newPage();
    await startChat(page);
    await sendMessage(page, 'what is domestic abuse');     // a conversation already under way
    await sendMessage(page, "he's outside the door now and I'm scared");
    await assertEmergencyInView(page, `emergency-typed-${viewport.width}`);
    await context.close();
  });

  test(`emergency reply by the button at ${viewport.width} px: 999 in view, the button stands out`, async () => {
    const context = await newContext(browser, { viewport });
    const page = await context.newPage();
    await startChat(page);
    const danger = page.locator('#quick-replies button', { hasText: "I'm in danger now" });
    assert.equal(await danger.count(), 1, 'the greeting offers "I\'m in danger now"');
    const first = page.locator('#quick-replies button').first();
    assert.equal(await first.textContent(), "I'm in danger now", 'it comes first');
    assert.match(await danger.getAttribute('class'), /button--danger/);
    const [dangerBg, topicBg] = await page.evaluate(() => {
      const buttons = [...document.querySelectorAll('#quick-replies button')];
      return [getComputedStyle(buttons[0]).backgroundColor, getComputedStyle(buttons[1]).backgroundColor];
    });
    assert.notEqual(dangerBg, topicBg, 'it looks different from the topic buttons');
    const bots = await page.locator('#log .message--bot').count();
    await danger.click();
    await waitForBotMessages(page, bots + 1);
    await assertEmergencyInView(page, `emergency-button-${viewport.width}`);
    await context.close();
  });
}

test('every phone number in bot messages is a tel: link that does not wrap', async () => {
  const context = await newContext(browser, { viewport: { width: 320, height: 568 } });
  const page = await context.newPage();
  await startChat(page);
  for (const text of ['/emergency', '/ask_helplines', '/ask_refuge', 'i live in wales', '/ask_sanctuary', '/own_behaviour']) {
    await sendMessage(page, text);
  }
  const report = await page.evaluate((source) => {
    const phone = new RegExp(source, 'g');
    const plain = [];
    let links = 0;
    const wrapped = [];
    for (const p of document.querySelectorAll('#log .message--bot .message-text')) {
      const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (node.parentElement.closest('a')) { continue; }
        for (const m of node.textContent.matchAll(phone)) { plain.push(m[1]); }
      }
      for (const a of p.querySelectorAll('a[href^="tel:"]')) {
        links += 1;
        if (a.href.replace('tel:', '') !== a.textContent.replace(/ /g, '')) { wrapped.push(`href ${a.href} for ${a.textContent}`); }
        if (a.getClientRects().length !== 1) { wrapped.push(a.textContent); }
      }
    }
    return { plain, links, wrapped, text: [...document.querySelectorAll('#log .message--bot')].map((m) => m.innerText).join('\n') };
  }, PHONE.source);
  assert.deepEqual(report.plain, [], `numbers left as plain text: ${report.plain.join(', ')}`);
  assert.ok(report.links >= 5, `found ${report.links} tel: links`);
  assert.deepEqual(report.wrapped, [], 'numbers wrapped across lines or linked wrongly');
  assert.match(report.text, /0808 2000 247/, 'the text itself is unchanged');
  await page.screenshot({ path: join(ARTIFACTS, 'tel-links-320.png'), fullPage: true });
  await context.close();
});

async function assertFallback(page, name) {
  const panel = page.getByRole('region', { name: 'Chat with us' });
  await panel.getByText("The chat can't open here at the moment.").waitFor({ timeout: 20_000 });
  assert.equal(await panel.locator('a[href="tel:999"]').count(), 1, '999 is a tel: link');
  assert.equal(await panel.locator('a[href="tel:08082000247"]').count(), 1, 'the helpline is a tel: link');
  const open = panel.getByRole('link', { name: 'Open the chat in a new tab' });
  assert.equal(await open.getAttribute('href'), `${CHAT_URL}/`);
  assert.equal(await open.getAttribute('target'), '_blank');
  assert.equal(await page.locator('iframe').count(), 0, 'no broken frame left in the panel');
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

async function waitForExit(page) {
  for (let i = 0; i < 100 && page.url() !== EXIT_URL; i++) { await page.waitForTimeout(100); }
  assert.equal(page.url(), EXIT_URL, 'lands on the configured exit site');
}

test('embed on an origin the profile does not allow: fallback panel, console names the key, exit works', async () => {
  for (const how of ['button', 'shift']) {
    const context = await newContext(browser, { viewport: { width: 375, height: 740 } });
    const page = await context.newPage();
    const consoleLines = [];
    page.on('console', (msg) => consoleLines.push(msg.text()));
    await page.goto(OTHER_URL);
    await page.getByRole('button', { name: 'Chat with us' }).click();
    await assertFallback(page, `embed-disallowed-${how}`);
    assert.ok(consoleLines.some((l) => l.includes('web_chat.frame_ancestors') && l.includes('https://not-allowed.example')),
      `console: ${consoleLines.join(' | ')}`);
    if (how === 'button') {
      await page.getByRole('region', { name: 'Chat with us' }).getByRole('button', { name: 'Exit this page' }).click();
    } else {
      await page.evaluate(() => document.activeElement && document.activeElement.blur());
      for (let i = 0; i < 3; i++) { await page.keyboard.press('Shift'); }
    }
    await waitForExit(page);
    await context.close();
  }
});

test('embed whose frame never loads (server down): fallback after the timeout, exit works', async () => {
  const context = await newContext(browser, { viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (msg) => consoleLines.push(msg.text()));
  await page.goto(COUNCIL_URL);
  await context.route(`${CHAT_URL}/embed`, (route) => route.abort('connectionrefused'));
  await page.getByRole('button', { name: 'Chat with us' }).click();
  await assertFallback(page, 'embed-down-1280');
  assert.ok(consoleLines.some((l) => l.includes('did not load in time')), `console: ${consoleLines.join(' | ')}`);
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  for (let i = 0; i < 3; i++) { await page.keyboard.press('Shift'); }
  await waitForExit(page);
  await context.close();
});
