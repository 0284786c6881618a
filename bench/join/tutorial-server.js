// The tutorial's server for the join benchmark: the seed's signaling plane
// (its socket.js, unchanged, on socket.io 2.3 from the seed's own
// node_modules) on an Express app that also serves the tutorial-design pages
// in bench/join/tutorial/, as the tutorial served its pages and its socket.io
// from one process. The seed's server.js is the same minus the static pages.
//   SEED_DIR=bench/.seed-work PORT=8091 node bench/join/tutorial-server.js
'use strict';
const http = require('node:http');
const path = require('node:path');

const seed = path.resolve(process.env.SEED_DIR || path.join(__dirname, '../.seed-work'));
const need = name => require(path.join(seed, 'node_modules', name));
const express = need('express');

const app = express();
app.use(express.static(path.join(__dirname, 'tutorial')));
const server = http.createServer(app);
const io = need('socket.io')(server); // serves its client at /socket.io/socket.io.js
const rooms = [];
require(path.join(seed, 'socket.js'))(io, rooms);
const port = Number(process.env.PORT) || 8091;
server.listen(port, '127.0.0.1', () => console.log(`tutorial design on http://127.0.0.1:${port}`));
