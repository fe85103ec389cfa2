"""Just enough OpenPGP (RFC 4880 / 9580) to pin a vendor's signing key: dearmor a public key block
and compute the fingerprints of its primary keys, in pure Python (no gpg on the host needed)."""

from __future__ import annotations

import base64
import hashlib

PUBLIC_KEY, PUBLIC_SUBKEY = 6, 14
ARMOR_BEGIN = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"


def dearmor(data):
    """The binary key block: armored input is decoded, binary input returned as it is."""
    if ARMOR_BEGIN not in data:
        return data
    armored = data.split(ARMOR_BEGIN, 1)[1].split(b"-----END", 1)[0]
    # Armor headers ("Version: ...") hold a colon, which base64 never does; "=XXXX" is the CRC-24.
    body = [
        line.strip()
        for line in armored.splitlines()
        if line.strip() and b":" not in line and not line.strip().startswith(b"=")
    ]
    return base64.b64decode(b"".join(body))


def _length(data, pos, new_format, length_type):
    """(body length, position after the length octets)."""
    if not new_format:
        size = {0: 1, 1: 2, 2: 4}.get(length_type)
        if size is None:
            return len(data) - pos, pos  # indeterminate: to the end
        return int.from_bytes(data[pos : pos + size], "big"), pos + size
    first = data[pos]
    if first < 192:
        return first, pos + 1
    if first < 224:
        return ((first - 192) << 8) + data[pos + 1] + 192, pos + 2
    if first == 255:
        return int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
    raise ValueError("partial body lengths do not occur in key packets")


def packets(data):
    """(tag, body) for every packet of a binary key block."""
    pos = 0
    while pos < len(data):
        header = data[pos]
        if not header & 0x80:
            raise ValueError(f"not an OpenPGP packet at byte {pos}")
        new_format = bool(header & 0x40)
        tag = header & 0x3F if new_format else (header >> 2) & 0x0F
        length, pos = _length(data, pos + 1, new_format, header & 0x03)
        yield tag, data[pos : pos + length]
        pos += length


def fingerprint(body):
    """The fingerprint of a public-key packet body (v4: SHA-1; v5 and v6: SHA-256), upper-case hex."""
    version = body[0]
    if version == 4:
        return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()
    if version in (5, 6):
        prefix = b"\x9a" if version == 5 else b"\x9b"
        return hashlib.sha256(prefix + len(body).to_bytes(4, "big") + body).hexdigest().upper()
    raise ValueError(f"unsupported key version {version}")


def primary_fingerprints(data):
    """Fingerprints of the primary keys in a key block (armored or binary)."""
    return [fingerprint(body) for tag, body in packets(dearmor(data)) if tag == PUBLIC_KEY]


def normalize(fpr):
    return "".join(str(fpr).split()).upper()
