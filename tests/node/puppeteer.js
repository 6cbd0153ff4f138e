// Puppeteer (puppeteer-core: never downloads a browser) through the pvault relay: connects to
// $PVAULT_CDP_URL with puppeteer.connect, opens a page at the URL given as first argument, sets
// cookie NAME=VALUE through document.cookie and localStorage NAME=VALUE (second and third
// arguments), reads both back in the page and prints
// {"cookie": <document.cookie value>, "storage": <localStorage value>, "url": <page url>}.
// It then disconnects (never browser.close(): that would end the session's browser), so the
// session carries on and saves what the page left. A refused connection (e.g. a wrong token:
// the relay answers HTTP 403) exits 99 with the error on stderr, like every script here.
'use strict';
const puppeteer = require('puppeteer-core');

const [url, name, value] = process.argv.slice(2);

async function run() {
  const endpoint = process.env.PVAULT_CDP_URL;
  if (!endpoint) throw new Error('PVAULT_CDP_URL is not set: run me through `pvault run`');
  if (!url || !name || !value) throw new Error('usage: puppeteer.js URL NAME VALUE');
  // defaultViewport null: leave the session's pages at the browser's own size instead of
  // forcing Puppeteer's 800×600 emulation on them.
  const browser = await puppeteer.connect({ browserWSEndpoint: endpoint, defaultViewport: null });
  const page = await browser.newPage();
  await page.goto(url);
  const seen = await page.evaluate(
    (n, v) => {
      document.cookie = `${n}=${v}; path=/; max-age=86400`;
      localStorage.setItem(n, v);
      const pair = document.cookie.split('; ').find((c) => c.startsWith(`${n}=`));
      return {
        cookie: pair ? pair.slice(n.length + 1) : null,
        storage: localStorage.getItem(n),
        url: location.href,
      };
    },
    name,
    value,
  );
  await browser.disconnect();
  console.log(JSON.stringify(seen));
  process.exit(0);
}

run().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(99);
});
