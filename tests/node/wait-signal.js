// Prints {"step":"ready"} and waits forever with Node's default signal handling, so a SIGINT
// kills it (the suite then expects `pvault run` to exit 130 and still end its session).
'use strict';
console.log(JSON.stringify({ step: 'ready', pid: process.pid }));
setInterval(() => {}, 1 << 30);
