// Accessibility: axe-core on the start screen, the chat and the safety page (zero serious or
// critical violations), keyboard-only use with visible focus, 320 px reflow, 200% zoom, reduced
// motion. Screenshots at 320 px and 1280 px go to test-artifacts/webchat/.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ARTIFACTS, CHAT_URL, axe, launch, newContext, screenshot, sendMessage, startChat, waitForBotMessages } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const results = [];
const shots = [];

function serious(summary) {
  return summary.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function chatWithEmergency(page) {
  await startChat(page);
  await sendMessage(page, '/emergency');
  await page.locator('#emergency').waitFor();
  await sendMessage(page, 'hello');
}

for (const width of [1280, 320]) {
  test(`axe and screenshots at ${width} px`, async () => {
    // bypassCSP only so that axe.min.js can be injected: the page's CSP allows no inline script
    // (tests/test_webchat.py and the other browser tests run with the CSP in force).
    const context = await newContext(browser, { viewport: { width, height: width === 320 ? 640 : 900 }, bypassCSP: true });
    const page = await context.newPage();

    await page.goto(CHAT_URL + '/');
    results.push(await axe(page, `start-${width}`));
    shots.push(await screenshot(page, `start-${width}`));

    await chatWithEmergency(page);
    results.push(await axe(page, `chat-${width}`));
    shots.push(await screenshot(page, `chat-${width}`));

    await page.route('**/webhooks/rest/webhook', (route) => route.abort('internetdisconnected'));
    await page.locator('#message').fill('are you there');
    await page.locator('#message').press('Enter');
    await page.locator('#offline').waitFor();
    await page.locator('#typing').waitFor({ state: 'hidden' });
    results.push(await axe(page, `chat-offline-${width}`));
    shots.push(await screenshot(page, `chat-offline-${width}`));
    await page.unroute('**/webhooks/rest/webhook');

    await page.goto(CHAT_URL + '/safety');
    results.push(await axe(page, `safety-${width}`));
    shots.push(await screenshot(page, `safety-${width}`));

    for (const r of results.filter((x) => x.page.endsWith(`-${width}`))) {
      assert.deepEqual(serious(r), [], `${r.page}: ${JSON.stringify(serious(r), null, 1)}`);
    }
    await context.close();
  });
}

test('320 px wide and 200% zoom: no horizontal scrolling, exit button visible', async () => {
  // 200% zoom of a 1280 px window lays out like a 640 px one; 320 px is WCAG 1.4.10 reflow.
  for (const width of [320, 640]) {
    const context = await newContext(browser, { viewport: { width, height: 600 } });
    const page = await context.newPage();
    for (const path of ['/', '/safety']) {
      await page.goto(CHAT_URL + path);
      const m = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
      assert.ok(m.sw <= m.cw, `${path} at ${width}px scrolls sideways (${m.sw} > ${m.cw})`);
    }
    await chatWithEmergency(page);
    const m = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
    assert.ok(m.sw <= m.cw, `chat at ${width}px scrolls sideways`);
    await page.mouse.wheel(0, 5000);
    const box = await page.locator('#exit-button').boundingBox();
    assert.ok(box && box.y >= 0 && box.y < 60, 'the exit button stays at the top while scrolling');
    await context.close();
  }
});

test('keyboard only: exit button first, start, send, quick replies, with visible focus', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(CHAT_URL + '/');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'exit-button', 'the exit button comes first');
  const focusStyle = await page.evaluate(() => getComputedStyle(document.activeElement).backgroundColor);
  assert.equal(focusStyle, 'rgb(255, 221, 0)', 'focus is shown in yellow');

  let guard = 0;
  while ((await page.evaluate(() => document.activeElement.id)) !== 'start-button' && guard++ < 20) {
    await page.keyboard.press('Tab');
  }
  const startFocus = await page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return { bg: s.backgroundColor, shadow: s.boxShadow };
  });
  assert.equal(startFocus.bg, 'rgb(255, 221, 0)');
  assert.match(startFocus.shadow, /rgb\(11, 12, 12\)/);
  await page.keyboard.press('Enter');
  await waitForBotMessages(page, 1);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'message');
  await page.keyboard.type('hello');
  const bots = await page.locator('#log .message--bot').count();
  await page.keyboard.press('Enter');
  await waitForBotMessages(page, bots + 1);

  if (await page.locator('#quick-replies button').count()) {
    // Shift+Tab back from the message box reaches the suggested replies.
    guard = 0;
    while (!(await page.evaluate(() => document.activeElement.classList.contains('quick-reply'))) && guard++ < 10) {
      await page.keyboard.press('Shift+Tab');
    }
    assert.ok(guard < 10, 'a suggested reply can be reached by keyboard');
    const before2 = await page.locator('#log .message--bot').count();
    await page.keyboard.press('Space');
    await waitForBotMessages(page, before2 + 1);
  }
  // The exit button by keyboard (Enter) still works at the end.
  await page.locator('#exit-button').focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/bbc\.co\.uk/);
  await context.close();
});

test('reduced motion: no animation', async () => {
  const context = await newContext(browser, { reducedMotion: 'reduce' });
  const page = await context.newPage();
  await page.goto(CHAT_URL + '/');
  const names = await page.evaluate(() => {
    document.getElementById('typing').hidden = false;
    return [...document.querySelectorAll('.typing-dot')].map((d) => getComputedStyle(d).animationName);
  });
  assert.deepEqual(names, ['none', 'none', 'none']);
  await context.close();
});

after(() => {
  console.log(`# screenshots in ${ARTIFACTS}:`);
  for (const s of shots) { console.log(`#   ${s}`); }
  console.log('# axe-core results (violations by impact; full details in axe-*.json):');
  for (const r of results) {
    const byImpact = {};
    for (const v of r.violations) { byImpact[v.impact] = (byImpact[v.impact] || 0) + 1; }
    console.log(`#   ${r.page}: ${r.passes} rules passed, violations ${JSON.stringify(byImpact)}` +
      (r.violations.length ? ` [${r.violations.map((v) => `${v.id}(${v.impact})`).join(', ')}]` : ''));
  }
});
