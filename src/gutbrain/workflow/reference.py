"""Open the reference a user names with ``--db``: a bundle, or an Emu database folder.

An Emu database folder (``species_taxid.fasta`` + ``taxonomy.tsv``, as ``emu build-database``
writes it or as Emu's default database is distributed) is recognised by its layout and imported
once into the user data folder as a bundle named ``emu-<folder>-<checksum>`` (the checksum of
its two files, so a changed database is imported again), with species groups; later runs reuse
the import. Anything else goes to :func:`gutbrain.reference.bundle.load_bundle`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.io.files import atomic_directory, sha256_file
from gutbrain.profile.groups import compute_species_groups, species_groups_problem
from gutbrain.reference.bundle import (
    MANIFEST_NAME,
    ReferenceBundle,
    load_bundle,
    user_database_dir,
)
from gutbrain.reference.formats import import_bundle
from gutbrain.reference.groups import write_species_groups

__all__ = ["EMU_FILES", "build_with_groups", "is_emu_folder", "open_reference"]

logger = logging.getLogger(__name__)

#: The two files of an Emu database folder.
EMU_FILES: tuple[str, str] = ("species_taxid.fasta", "taxonomy.tsv")


def is_emu_folder(path: str | Path) -> bool:
    """True for a folder holding Emu's two database files and no bundle manifest."""
    folder = Path(path)
    return (
        folder.is_dir()
        and all((folder / name).is_file() for name in EMU_FILES)
        and not (folder / MANIFEST_NAME).exists()
    )


def build_with_groups(
    target: Path,
    build: Callable[[Path], ReferenceBundle],
    *,
    groups: bool | None = None,
    replace: bool = False,
    threads: int = 1,
    progress: Callable[[float, float | None], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> ReferenceBundle:
    """Build a bundle with ``build(folder)`` and add its species groups, all or nothing.

    ``groups``: ``True`` requires them, ``False`` skips them, ``None`` computes them when the
    reference allows it (some genus holds two named species) and otherwise says why through
    ``notify``. The bundle is built and grouped inside a temporary sibling of ``target`` that is
    renamed into place only when both steps succeeded, so a reference whose groups cannot be
    computed (``GB-REF-GROUPS``) leaves nothing behind.

    Raises
    ------
    ReferenceDatabaseError
        From the build, or ``GB-REF-GROUPS`` when ``groups`` is true and they cannot be
        computed.
    OutputExistsError
        When ``target`` exists and ``replace`` is false.
    """
    if groups is False:
        return build(target)
    with atomic_directory(target, replace=replace) as tmp:
        os.chmod(tmp, 0o755)
        inner = tmp / "bundle"
        try:
            bundle = build(inner)
            problem = species_groups_problem(bundle)
            if problem is None or groups:
                found = compute_species_groups(bundle, threads=threads, progress=progress)
                write_species_groups(bundle, found)
            elif notify is not None:
                notify(f"no species groups: {problem.replace(str(inner), str(target))}")
        except ReferenceDatabaseError as exc:
            message = str(exc).replace(str(inner), str(target))
            raise ReferenceDatabaseError(message, code=exc.code) from None
        for child in inner.iterdir():
            child.rename(tmp / child.name)
        shutil.rmtree(inner)
    return load_bundle(target)


def _emu_bundle_name(folder: Path) -> str:
    digest = sha256_file(*(folder / name for name in EMU_FILES))
    stem = re.sub(r"[^A-Za-z0-9._+-]", "_", folder.resolve().name) or "db"
    return f"emu-{stem}-{digest[:10]}"


def open_reference(
    db: str | Path | None,
    *,
    threads: int = 1,
    notify: Callable[[str], None] | None = None,
    progress: Callable[[float, float | None], None] | None = None,
) -> ReferenceBundle:
    """Load the reference ``db`` names; import an Emu database folder first (module docstring).

    Parameters
    ----------
    db
        ``None`` (the default reference), a bundle name or folder, or an Emu database folder.
    threads
        Worker processes for computing species groups of an imported Emu database.
    notify
        Called with a one-line message when an Emu folder is imported or reused.
    progress
        ``callback(done, total)`` while species groups are computed.

    Raises
    ------
    ReferenceDatabaseError
        As :func:`load_bundle`, or from the import (``GB-REF-NOTAX`` for a sequence whose tax
        id the taxonomy lacks, ``GB-REF-GROUPS`` …).
    """
    if db is None or not is_emu_folder(db):
        return load_bundle(db)
    folder = Path(db)
    name = _emu_bundle_name(folder)
    target = user_database_dir() / name
    if (target / MANIFEST_NAME).is_file():
        if notify is not None:
            notify(f"{folder} is an Emu database; using its import {name} ({target})")
        return load_bundle(target)
    if notify is not None:
        notify(
            f"{folder} is an Emu database; importing it once as reference bundle {name} in "
            f"{target} (with species groups: one self-alignment of the reference, about a minute "
            "per 20,000 sequences)"
        )

    def build(out: Path) -> ReferenceBundle:
        return import_bundle(
            folder,
            format="emu",
            name=name,
            version="emu-folder",
            out=out,
            licence="see the Emu database's source",
        )

    try:
        return build_with_groups(target, build, threads=threads, progress=progress, notify=notify)
    except ReferenceDatabaseError as exc:
        exc.add_note(f"while importing the Emu database folder {folder}")
        raise
