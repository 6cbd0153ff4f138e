// Logs in on the test server inside the pvault session ($PVAULT_CDP_URL), then disconnects
// (Playwright's close() on a CDP connection leaves the browser running) and exits with
// $EXIT_CODE (default 0), so `pvault run` can be checked to propagate it.
'use strict';
const { connect, login, main } = require('./common');

main(async () => {
  const { browser, context } = await connect();
  const page = await context.newPage();
  await login(page);
  await browser.close();
  console.log(JSON.stringify({ title: 'logged-in' }));
  process.exit(Number(process.env.EXIT_CODE || 0));
});
