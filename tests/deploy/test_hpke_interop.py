"""Sealed answers and secrets are RFC 9180 HPKE as documented (shared/platform/sealed.py): another
language's implementation (`@hpke/core` on Node.js) opens what meldespiegel seals, and
meldespiegel opens what it seals, with the same suite and the context as `info`."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.platform.sealed import open_sealed, public_bytes, seal
from tests.node import run_node

SUITE = """import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, Aes256Gcm } from "@hpke/core";
const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
const utf8 = new TextEncoder();
"""
OPEN = (
    SUITE
    + """const [keyHex, box64, info] = process.argv.slice(2);
const box = Buffer.from(box64, "base64");
const recipientKey = await suite.kem.deserializePrivateKey(Buffer.from(keyHex, "hex"));
const plain = await suite.open(
  { recipientKey, enc: box.subarray(0, 32), info: utf8.encode(info) }, box.subarray(32));
process.stdout.write(Buffer.from(plain).toString("utf-8"));
"""
)
SEAL = (
    SUITE
    + """const [publicHex, text, info] = process.argv.slice(2);
const recipientPublicKey = await suite.kem.deserializePublicKey(Buffer.from(publicHex, "hex"));
const sender = await suite.createSenderContext({ recipientPublicKey, info: utf8.encode(info) });
const ct = await sender.seal(utf8.encode(text));
process.stdout.write(Buffer.concat([Buffer.from(sender.enc), Buffer.from(ct)]).toString("base64"));
"""
)
ANSWER = '{"ergebnisstatus":"01","personen":[{"familienname":"Weißmüller","wohnort":"Hannover"}]}'


def test_another_implementation_opens_a_sealed_answer() -> None:
    key = X25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    box = seal(public_bytes(key), ANSWER.encode(), b"03-20261205-9U3ABXU5MRZLRX77E59K")
    opened = run_node(OPEN, raw.hex(), box, "03-20261205-9U3ABXU5MRZLRX77E59K")
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == ANSWER
    wrong = run_node(OPEN, raw.hex(), box, "03-20261205-ANOTHER")
    assert wrong.returncode != 0  # bound to its Vorgangsnummer


def test_a_box_another_implementation_sealed_opens_here() -> None:
    key = X25519PrivateKey.generate()
    sealed = run_node(SEAL, public_bytes(key).hex(), "Initialpasswort Gr8-xY", "u-1|account")
    assert sealed.returncode == 0, sealed.stderr
    assert open_sealed(key, sealed.stdout, b"u-1|account") == b"Initialpasswort Gr8-xY"
