"""Reference handling beyond file parsing: building and fetching reference bundles.

``refseq``
    NCBI RefSeq 16S records (``>NR_… Genus species strain … 16S ribosomal RNA, …``) to taxonomy
    records, given species tax ids and an NCBI lineage table.
``fetch``
    ``gutbrain db fetch refseq-16s``: download NCBI's current RefSeq 16S FASTA and taxonomy
    dump (or read them from a mirror), verify them and build a bundle.

This package sits between :mod:`gutbrain.io` (bundle files) and the domain packages; it never
imports mappy (indexes are built by :mod:`gutbrain.profile.align` through ``io.refdb``).
"""
