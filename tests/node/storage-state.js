// Playwright on its own (it launches $CHROME, default /usr/lib/chromium/chromium):
//   node storage-state.js load FILE   newContext({storageState: FILE}), then prints the
//                                     check result of /whoami and /app;
//   node storage-state.js save FILE   logs in on a fresh context and writes
//                                     context.storageState({path: FILE}).
'use strict';
const { chromium, executablePath, login, check, main } = require('./common');

main(async () => {
  const [mode, file] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath });
  try {
    if (mode === 'load') {
      const context = await browser.newContext({ storageState: file });
      const page = await context.newPage();
      console.log(JSON.stringify(await check(page)));
    } else if (mode === 'save') {
      const context = await browser.newContext();
      const page = await context.newPage();
      await login(page);
      await context.storageState({ path: file });
      console.log(JSON.stringify({ saved: file }));
    } else {
      throw new Error(`usage: storage-state.js load|save FILE (got ${mode})`);
    }
  } finally {
    await browser.close();
  }
});
