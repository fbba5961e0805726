"""Reference bundles: the 16S sequences, taxonomy, copy numbers and species groups of a reference.

A *reference* here is a set of 16S sequences with one lineage each, stored as a checksummed
*bundle* folder (:mod:`~gutbrain.reference.bundle`). Importers turn published layouts (Emu,
QIIME/SILVA, HITdb, dada2, SINTAX) into bundles (:mod:`~gutbrain.reference.formats`); rrnDB gives
16S *copy numbers* (:mod:`~gutbrain.reference.copy_numbers`); :mod:`~gutbrain.reference.index`
names and places the cached minimap2 indexes.

``refseq``
    NCBI RefSeq 16S records (``>NR_… Genus species strain … 16S ribosomal RNA, …``) to taxonomy
    records, given species tax ids and an NCBI lineage table.
``fetch``
    ``gutbrain db fetch refseq-16s``: download NCBI's current RefSeq 16S FASTA and taxonomy
    dump (or read them from a mirror), verify them and build a bundle.

This package sits between :mod:`gutbrain.io` and the domain packages. It never imports mappy:
building an index or aligning sequences is :mod:`gutbrain.profile`'s work.
"""
