"""Where the shipped XSD and Avro files live, installed or checked out."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def schemas_dir() -> Path:
    """The ``schemas/`` folder: inside an installed wheel, or at the checkout's root."""
    for candidate in (_PACKAGE_DIR / "_schemas", _PACKAGE_DIR.parent / "schemas"):
        if (candidate / "avro").is_dir():
            return candidate
    raise FileNotFoundError(
        f"kpgw schemas not found next to {_PACKAGE_DIR}; the installation is incomplete"
    )


def avro_dir() -> Path:
    return schemas_dir() / "avro"


def xsd_dir() -> Path:
    return schemas_dir() / "xsd"


def data_dir() -> Path:
    """Reference data shipped with the schemas (the example participant registry)."""
    return schemas_dir() / "data"
