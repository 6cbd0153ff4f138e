// Stays connected to the pvault session ($PVAULT_CDP_URL) while the suite works on it.
// Logs in, prints {"step":"logged-in"}, then for each stdin line `check` prints the check
// result from the SAME page and connection (proving a capture did not disturb them), and
// on `quit` disconnects and exits 0.
'use strict';
const readline = require('readline');
const { connect, login, check, main } = require('./common');

main(async () => {
  const { browser, context } = await connect();
  const page = await context.newPage();
  await login(page);
  console.log(JSON.stringify({ step: 'logged-in' }));
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line === 'check') {
      const r = await check(page);
      console.log(JSON.stringify({ step: 'check', connected: browser.isConnected(), ...r }));
    } else if (line === 'quit') {
      break;
    }
  }
  await browser.close();
  process.exit(0);
});
