"""Fingerprints computed in Python agree with gpg's, for armored and binary keys."""

import subprocess

import pytest
from ansible_collections.awsome.ml_cluster.plugins.module_utils import openpgp


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    """A fresh ed25519 key and an RSA key, each as gpg exports it, with gpg's own fingerprints."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--passphrase", ""]
    for algo in ("ed25519", "rsa2048"):
        subprocess.run(
            [*gpg, "--quick-gen-key", f"test {algo} <{algo}@example.invalid>", algo, "sign", "never"],
            check=True,
            capture_output=True,
        )
    listing = subprocess.run([*gpg, "--with-colons", "--list-keys"], check=True, capture_output=True, text=True)
    fingerprints = []
    previous = ""
    for line in listing.stdout.splitlines():
        if line.startswith("fpr:") and previous.startswith("pub:"):
            fingerprints.append(line.split(":")[9])
        previous = line
    armored = subprocess.run([*gpg, "--export", "--armor"], check=True, capture_output=True).stdout
    binary = subprocess.run([*gpg, "--export"], check=True, capture_output=True).stdout
    return {"armored": armored, "binary": binary, "fingerprints": fingerprints}


def test_armored_key(key):
    assert openpgp.primary_fingerprints(key["armored"]) == key["fingerprints"]


def test_binary_key(key):
    assert openpgp.primary_fingerprints(key["binary"]) == key["fingerprints"]


def test_dearmor_gives_what_gpg_exports_in_binary(key):
    assert openpgp.dearmor(key["armored"]) == key["binary"]


def test_subkeys_are_not_primary_keys(key):
    tags = [tag for tag, _ in openpgp.packets(key["binary"])]
    assert tags.count(openpgp.PUBLIC_KEY) == 2


def test_garbage_is_refused():
    with pytest.raises(ValueError, match="not an OpenPGP packet"):
        list(openpgp.packets(b"<html>404</html>"))


def test_normalize():
    assert openpgp.normalize("eb69 3b30 35cd 5710") == "EB693B3035CD5710"


def test_armor_headers_are_skipped(key):
    with_headers = key["armored"].replace(
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\nVersion: GnuPG v1\nComment: vendor key\n",
    )
    assert openpgp.primary_fingerprints(with_headers) == key["fingerprints"]
