// An auditor's check of a § 40 BMG protocol chain, without meldespiegel's code: Node.js and the
// RFC 8785 package `canonicalize`. Input: `python -m services.protocol_log.admin export CHAIN
// --auditor NAME` (JSON Lines) and the checkpoint key (hex, protocol-checkpoint.pub).
//   node verify-chain.mjs chain.jsonl protocol-checkpoint.pub    prints "intact" or the findings
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import canonicalize from "canonicalize";

const [file, keyFile] = process.argv.slice(2);
const raw = Buffer.from(readFileSync(keyFile, "utf-8").trim(), "hex");
const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
const signed = (l) => verify(null, Buffer.from(`${l.kind}|${l.chain}|${l.seq}|${l.entry_hash}|${l.at}`), key, Buffer.from(l.signature, "hex"));
const sha256 = (s) => createHash("sha256").update(s, "utf-8").digest("hex");
const lines = readFileSync(file, "utf-8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const findings = [], hashes = new Map();
let seq = 1, prev = "0".repeat(64);
for (const l of lines) {
  if (l.kind === "cut") {
    if (!signed(l)) findings.push(`the retention cut at ${l.seq} is not validly signed`);
    [seq, prev] = [l.seq + 1, l.entry_hash];
  } else if (l.kind === "entry") {
    if (l.seq !== seq || l.prev_hash !== prev) findings.push(`entry ${l.seq} does not follow entry ${seq - 1}`);
    if (sha256(`${l.chain}|${l.seq}|${l.prev_hash}|${canonicalize(l.entry)}`) !== l.entry_hash) findings.push(`entry ${l.seq} was changed`);
    hashes.set(l.seq, l.entry_hash);
    [seq, prev] = [l.seq + 1, l.entry_hash];
  } else if (l.kind === "checkpoint") {
    if (!signed(l)) findings.push(`checkpoint ${l.seq} is not validly signed`);
    else if (l.seq >= (lines[0].kind === "cut" ? lines[0].seq + 1 : 1) && hashes.get(l.seq) !== l.entry_hash) findings.push(`checkpoint ${l.seq}: entry missing or changed`);
  }
}
console.log(findings.length ? findings.join("\n") : "intact");
process.exit(findings.length ? 1 : 0);
