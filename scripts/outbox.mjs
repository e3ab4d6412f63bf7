#!/usr/bin/env node
// Reads the development outbox: without SMTP_URL, Tessera writes every mail as an .eml file under
// DATA_DIR/outbox/ (default ./data/outbox/). This prints the newest one, decoded, so a link in it can
// be followed from a terminal.
//
//   node scripts/outbox.mjs                       # the newest mail: date, to, subject, text part
//   node scripts/outbox.mjs --to ada@example.com  # the newest mail to that address
//   node scripts/outbox.mjs --link                # only the first link of that mail (for scripts)
//   node scripts/outbox.mjs --token               # only its `token` query parameter
//   node scripts/outbox.mjs --list                # every mail, oldest first: date, to, subject
//   node scripts/outbox.mjs --subject reset --wait 10   # the newest mail whose subject matches (case-insensitive),
//                                                  # waiting up to 10 s for one to arrive
//
// mailparser (a devDependency) decodes the MIME parts: long lines are quoted-printable encoded, so
// grepping the raw file for a link does not work.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { simpleParser } from 'mailparser';

const { values } = parseArgs({
  options: {
    to: { type: 'string' },
    link: { type: 'boolean', default: false },
    token: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    subject: { type: 'string' },
    wait: { type: 'string', default: '0' },
    dir: { type: 'string' },
  },
});
const dir = values.dir ?? join(resolve(process.env.DATA_DIR ?? './data'), 'outbox');

/** The mails in the outbox that match --to and --subject, oldest first. */
async function matchingMails() {
  let names;
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.eml'));
  } catch {
    names = [];
  }
  const mails = [];
  for (const name of names) {
    const path = join(dir, name);
    const parsed = await simpleParser(await readFile(path));
    const to = (Array.isArray(parsed.to) ? parsed.to : [parsed.to]).flatMap((a) => a?.value ?? []).map((a) => a.address?.toLowerCase());
    mails.push({ path, mtime: (await stat(path)).mtimeMs, name, parsed, to });
  }
  // Oldest first: by write time, then by name (names start with the time they were written).
  mails.sort((a, b) => a.mtime - b.mtime || a.name.localeCompare(b.name));
  const subject = values.subject ? new RegExp(values.subject, 'i') : undefined;
  return mails.filter((m) => (!values.to || m.to.includes(values.to.toLowerCase())) && (!subject || subject.test(m.parsed.subject ?? '')));
}

// Mail leaves through a queue, so it lands a moment after the request that caused it: --wait polls.
const deadline = Date.now() + Number(values.wait) * 1000;
let chosen = await matchingMails();
while (chosen.length === 0 && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 100));
  chosen = await matchingMails();
}

if (values.list) {
  for (const m of chosen) console.log(`${m.parsed.date?.toISOString() ?? '?'}  ${m.to.join(', ')}  ${m.parsed.subject ?? ''}`);
  process.exit(0);
}
const newest = chosen.at(-1);
if (!newest) {
  console.error(`no mail${values.to ? ` to ${values.to}` : ''}${values.subject ? ` about ${values.subject}` : ''} in ${dir}`);
  process.exit(1);
}
const text = newest.parsed.text ?? '';
const link = /https?:\/\/\S+/.exec(text)?.[0];
if (values.link || values.token) {
  const out = values.token && link ? new URL(link).searchParams.get('token') : link;
  if (!out) {
    console.error(`the newest mail${values.to ? ` to ${values.to}` : ''} has no ${values.token ? 'token' : 'link'}`);
    process.exit(1);
  }
  console.log(out);
} else {
  console.log(`Date:    ${newest.parsed.date?.toISOString() ?? '?'}`);
  console.log(`To:      ${newest.to.join(', ')}`);
  console.log(`Subject: ${newest.parsed.subject ?? ''}`);
  console.log(`File:    ${newest.path}\n`);
  console.log(text);
}
