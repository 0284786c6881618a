// A throwaway PostgreSQL server for a node test (pgtemp.sh beside this file:
// a unix socket in a temporary directory, an empty database `onair`).
//
//   const pg = startPostgres();
//   startOnair(['--postgres', pg.conninfo]);
//   pg.query("SELECT count(*) FROM users");  // rows as arrays of strings
//   pg.restart(); pg.down(); pg.up();        // the server, same data
//   pg.stop();                               // also when the process exits
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const PGTEMP = path.join(__dirname, 'pgtemp.sh');

// The newest of Debian's /usr/lib/postgresql/*/bin/psql, as pgtemp.sh picks.
function psqlBin() {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter(v => /^\d+$/.test(v)) : [];
  versions.sort((a, b) => Number(a) - Number(b));
  const bin = versions.length ? path.join(root, versions.at(-1), 'bin/psql') : 'psql';
  return fs.existsSync(bin) ? bin : 'psql';
}

const running = new Set();
process.on('exit', () => {
  for (const pg of running) pg.stop();
});

function startPostgres() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-pg.'));
  const run = cmd => execFileSync(PGTEMP, [cmd, dir], { encoding: 'utf8', timeout: 90000 });
  const conninfo = run('start').trim();
  const pg = {
    dir,
    conninfo,
    // Runs sql with psql; returns its rows, each an array of column texts.
    query(sql) {
      const out = execFileSync(psqlBin(), [conninfo, '-X', '-A', '-t', '-F', '\t',
        '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8', timeout: 30000 });
      return out.split('\n').filter(l => l !== '').map(l => l.split('\t'));
    },
    restart() { run('restart'); },
    down() { run('down'); },
    up() { run('up'); },
    stop() {
      if (!running.has(pg)) return;
      running.delete(pg);
      run('stop');
    },
  };
  running.add(pg);
  return pg;
}

module.exports = { startPostgres };
