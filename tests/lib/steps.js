// The steps of one end-to-end story: each step is a node:test test that
// builds on the ones before it, so after one fails the rest are skipped
// rather than failing for the same reason. A failure shows the tail of
// onair's log and whatever onFail adds (screenshots, the page's URL).
'use strict';
const { test } = require('node:test');

// server: () => the running onair (or undefined); timeoutMs: per step;
// onFail: async (t) => more diagnostics. Returns step(name, fn, opts), where
// opts go to test() and opts.todo marks a known defect whose failure does
// not stop the steps after it.
function stepper({ server, timeoutMs = 60000, onFail } = {}) {
  let failed = false;
  return function step(name, fn, opts = {}) {
    test(name, { timeout: timeoutMs, ...opts }, async t => {
      if (failed) { t.skip('an earlier step failed'); return; }
      try {
        await fn(t);
      } catch (e) {
        if (opts.todo) throw e;
        failed = true;
        const srv = server && server();
        if (srv) t.diagnostic('onair log (tail):\n' + srv.log().slice(-4000));
        if (onFail) await onFail(t).catch(() => {});
        throw e;
      }
    });
  };
}

module.exports = { stepper };
