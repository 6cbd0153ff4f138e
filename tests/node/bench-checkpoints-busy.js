// Keeps a pvault session busy for the checkpoint benchmark (tests/bench/checkpoints.rs), the
// same way whether or not the session checkpoints: one page navigates every second between
// pages of $TEST_ORIGIN while a script in every document writes a localStorage key and a
// cookie every 100 ms. Prints {"step":"ready"} once the first page is up; on the stdin line
// `quit` (or EOF) prints {"step":"done","navigations":N,"writes":N} and exits 0. The browser
// is left running (the bench stops the session itself).
'use strict';
const readline = require('readline');
const { connect, origin, main } = require('./common');

main(async () => {
  const { context } = await connect();
  await context.addInitScript(() => {
    let n = 0;
    setInterval(() => {
      n += 1;
      localStorage.setItem('busy' + (n % 20), String(Date.now()));
      localStorage.setItem('writes', String(Number(localStorage.getItem('writes') || 0) + 1));
      document.cookie = 'busy' + (n % 10) + '=' + Date.now() + '; path=/; max-age=3600';
    }, 100);
  });
  const page = await context.newPage();
  await page.goto(origin + '/busy?0');
  console.log(JSON.stringify({ step: 'ready' }));

  let quit = false;
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    if (l.trim() === 'quit') quit = true;
  });
  rl.on('close', () => {
    quit = true;
  });
  let navigations = 0;
  let next = Date.now();
  while (!quit) {
    next += 1000;
    navigations += 1;
    await page.goto(origin + '/busy?' + navigations);
    const wait = next - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const writes = Number(await page.evaluate(() => localStorage.getItem('writes')));
  console.log(JSON.stringify({ step: 'done', navigations, writes }));
  process.exit(0);
});
