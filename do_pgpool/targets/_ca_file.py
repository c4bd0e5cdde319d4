"""Storing a cluster's CA certificate where the user chose: atomic (temp file + rename), mode 0644, idempotent."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .._exceptions import ConfigError, Param

__all__ = ["write_ca_file"]


def write_ca_file(path: str | os.PathLike[str], pem: str) -> bool:
    """Write ``pem`` to ``path``; False (nothing written) when the file already holds exactly that."""
    target = Path(path)
    try:
        if target.is_file() and target.read_text() == pem:
            return False
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    except OSError as exc:
        raise ConfigError([f"cannot write the CA file {target}: {exc.strerror}; choose a writable ",
                           Param("ca_file", "PATH")]) from exc  # fmt: skip
    try:
        with os.fdopen(fd, "w") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # a certificate is public; the app's user must be able to read it
        os.replace(tmp, target)  # readers see the old file or the new one, never half of one
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError([f"cannot write the CA file {target}: {exc.strerror}; choose a writable ",
                           Param("ca_file", "PATH")]) from exc  # fmt: skip
    return True
