// Visits /whoami and /app in the pvault session ($PVAULT_CDP_URL) and prints
// {"whoami": <title>, "app": <title>}: `user:<sid>` when the cookie reached the server,
// `token:<token>` when the page found localStorage; also `session`, $PVAULT_SESSION_ID.
'use strict';
const { connect, check, main } = require('./common');

main(async () => {
  const { browser, context } = await connect();
  const page = await context.newPage();
  const result = await check(page);
  await page.close();
  await browser.close();
  console.log(JSON.stringify({ ...result, session: process.env.PVAULT_SESSION_ID || null }));
});
