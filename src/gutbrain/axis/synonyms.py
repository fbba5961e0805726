"""Taxon names that differ between references: spelling clean-up, synonyms, reclassifications.

Profiles come from SILVA, Greengenes, GTDB, NCBI/Emu or HITdb taxonomies, while the literature
names taxa as they were named at publication. :func:`canonical_name` maps both to one key:

1. clean-up (:func:`clean_name`): strips rank prefixes (``g__``), brackets (``[Eubacterium]``),
   underscores, SILVA numeric suffixes (``Coprococcus_1`` -> ``Coprococcus``,
   ``Clostridium_sensu_stricto_1`` -> ``Clostridium``) and joins ``Escherichia-Shigella`` /
   ``Escherichia/Shigella`` to ``Escherichia``; SILVA group names such as ``UCG-002`` are kept;
2. synonyms and reclassifications (:data:`SYNONYMS`): e.g. *Eubacterium rectale* ->
   *Agathobacter rectalis* (Rosero et al. 2016), *Eubacterium hallii* -> *Anaerobutyricum hallii*
   (Shetty et al. 2018), *Ruminococcus gnavus* -> *Mediterraneibacter gnavus* (Togo et al. 2018),
   *Ruminococcus obeum* -> *Blautia obeum* (Lawson & Finegold 2015), the 2020 split of
   *Lactobacillus* into 25 genera (Zheng et al. 2020, IJSEM 70:2782), phylum renames of 2021
   (Oren & Garrity, IJSEM 71:005056);
3. genus-level groups that stand for one species (SILVA ``[Eubacterium] rectale group`` is the
   genus-rank home of *Agathobacter rectalis*): :data:`SPECIES_GROUPS`;
4. Clostridium clusters (Collins et al. 1994) to the families that mostly hold them:
   :data:`CLOSTRIDIUM_CLUSTERS`.

Matching is by :func:`same_taxon`, which also treats any post-2020 *Lactobacillus* segregate as
the old genus *Lactobacillus* (:data:`LACTOBACILLUS_2020_GENERA`) when one side uses the old
name.
"""

from __future__ import annotations

import re

__all__ = [
    "CLOSTRIDIUM_CLUSTERS",
    "LACTOBACILLUS_2020_GENERA",
    "SPECIES_GROUPS",
    "SYNONYMS",
    "canonical_name",
    "clean_name",
    "same_taxon",
    "species_of_group",
]

#: Old or alternative name (lower case, cleaned) -> current name.
SYNONYMS: dict[str, str] = {
    # Lachnospiraceae reclassifications
    "eubacterium rectale": "Agathobacter rectalis",
    "agathobacter rectale": "Agathobacter rectalis",
    "roseburia rectalis": "Agathobacter rectalis",
    "eubacterium hallii": "Anaerobutyricum hallii",
    "eubacterium eligens": "Lachnospira eligens",
    "ruminococcus gnavus": "Mediterraneibacter gnavus",
    "ruminococcus torques": "Mediterraneibacter torques",
    "ruminococcus obeum": "Blautia obeum",
    "clostridium symbiosum": "Hungatella symbiosa",
    "clostridium hathewayi": "Hungatella hathewayi",
    # Lactobacillus split (Zheng et al. 2020)
    "lactobacillus reuteri": "Limosilactobacillus reuteri",
    "lactobacillus fermentum": "Limosilactobacillus fermentum",
    "lactobacillus rhamnosus": "Lacticaseibacillus rhamnosus",
    "lactobacillus casei": "Lacticaseibacillus casei",
    "lactobacillus paracasei": "Lacticaseibacillus paracasei",
    "lactobacillus plantarum": "Lactiplantibacillus plantarum",
    "lactobacillus salivarius": "Ligilactobacillus salivarius",
    "lactobacillus ruminis": "Ligilactobacillus ruminis",
    "lactobacillus sakei": "Latilactobacillus sakei",
    "lactobacillus brevis": "Levilactobacillus brevis",
    # phylum names of 2021 (Oren & Garrity) -> the names used by most 16S references
    "bacillota": "Firmicutes",
    "bacteroidota": "Bacteroidetes",
    "pseudomonadota": "Proteobacteria",
    "actinomycetota": "Actinobacteria",
    "verrucomicrobiota": "Verrucomicrobia",
    "fusobacteriota": "Fusobacteria",
    # family spellings
    "verrucomicrobiaceae": "Akkermansiaceae",
}

#: Genus-rank group names (cleaned, lower case) that stand for one species.
SPECIES_GROUPS: dict[str, str] = {
    "eubacterium rectale group": "Agathobacter rectalis",
    "eubacterium hallii group": "Anaerobutyricum hallii",
    "eubacterium eligens group": "Lachnospira eligens",
    "ruminococcus gnavus group": "Mediterraneibacter gnavus",
    "ruminococcus torques group": "Mediterraneibacter torques",
    "eubacterium ventriosum group": "Eubacterium ventriosum",
}

#: Genus of a reclassified species, so a genus-level profile can match it.
_GENUS_OF_GROUP = {
    "eubacterium rectale group": "Agathobacter",
    "eubacterium hallii group": "Anaerobutyricum",
    "eubacterium eligens group": "Lachnospira",
    "ruminococcus gnavus group": "Mediterraneibacter",
    "ruminococcus torques group": "Mediterraneibacter",
}

#: Clostridium clusters (Collins 1994) -> the family that mostly holds them.
CLOSTRIDIUM_CLUSTERS: dict[str, str] = {
    "clostridium cluster i": "Clostridiaceae",
    "clostridium cluster iv": "Ruminococcaceae",
    "clostridium cluster xiva": "Lachnospiraceae",
    "clostridium cluster xivb": "Lachnospiraceae",
    "clostridium cluster xvi": "Erysipelotrichaceae",
}

#: The genera into which Lactobacillus was split in 2020 (Zheng et al. 2020), incl. itself.
LACTOBACILLUS_2020_GENERA: frozenset[str] = frozenset(
    {
        "Lactobacillus",
        "Paralactobacillus",
        "Holzapfelia",
        "Amylolactobacillus",
        "Bombilactobacillus",
        "Companilactobacillus",
        "Lapidilactobacillus",
        "Agrilactobacillus",
        "Schleiferilactobacillus",
        "Loigolactobacillus",
        "Lacticaseibacillus",
        "Latilactobacillus",
        "Dellaglioa",
        "Liquorilactobacillus",
        "Ligilactobacillus",
        "Lactiplantibacillus",
        "Furfurilactobacillus",
        "Paucilactobacillus",
        "Limosilactobacillus",
        "Fructilactobacillus",
        "Acetilactobacillus",
        "Apilactobacillus",
        "Levilactobacillus",
        "Secundilactobacillus",
        "Lentilactobacillus",
    }
)

_PREFIX = re.compile(r"^[kpcofgs]__", re.IGNORECASE)
_SUFFIX = re.compile(r"^(?P<name>[A-Z][a-z]+(?: [a-z]+)?) (?P<num>\d+)$")


def clean_name(name: str) -> str:
    """Tidy one taxon name as written by a reference (see module docstring).

    Examples
    --------
    >>> clean_name("g__[Eubacterium]_rectale_group")
    'Eubacterium rectale group'
    >>> clean_name("Coprococcus_1"), clean_name("Clostridium_sensu_stricto_1")
    ('Coprococcus', 'Clostridium')
    >>> clean_name("Escherichia-Shigella"), clean_name("Ruminococcaceae_UCG-002")
    ('Escherichia', 'Ruminococcaceae UCG-002')
    """
    text = _PREFIX.sub("", name.strip())
    text = text.replace("[", "").replace("]", "").replace("_", " ").replace(".", " ")
    text = " ".join(text.split())
    text = re.sub(r" sensu stricto( \d+)?$", "", text)
    text = re.sub(r"^Escherichia[-/ ]Shigella$", "Escherichia", text, flags=re.IGNORECASE)
    match = _SUFFIX.match(text)
    if match is not None:
        text = match.group("name")
    return text


def canonical_name(name: str) -> str:
    """Return the current name for ``name`` (cleaned, synonyms resolved), case preserved.

    Examples
    --------
    >>> canonical_name("[Eubacterium] rectale")
    'Agathobacter rectalis'
    >>> canonical_name("Lactobacillus reuteri")
    'Limosilactobacillus reuteri'
    >>> canonical_name("Clostridium cluster XIVa")
    'Lachnospiraceae'
    """
    text = clean_name(name)
    key = text.lower()
    if key in SYNONYMS:
        return SYNONYMS[key]
    if key in CLOSTRIDIUM_CLUSTERS:
        return CLOSTRIDIUM_CLUSTERS[key]
    if key in _GENUS_OF_GROUP:
        return _GENUS_OF_GROUP[key]
    return text


def species_of_group(name: str) -> str | None:
    """The species a genus-rank group name stands for (``None`` if it is not such a group)."""
    return SPECIES_GROUPS.get(clean_name(name).lower())


def same_taxon(a: str, b: str) -> bool:
    """Do two names denote the same taxon after clean-up, synonyms and the Lactobacillus split?

    Examples
    --------
    >>> same_taxon("Eubacterium rectale", "Agathobacter rectalis")
    True
    >>> same_taxon("Lactobacillus", "Limosilactobacillus")
    True
    >>> same_taxon("Limosilactobacillus", "Lacticaseibacillus")
    False
    """
    x, y = canonical_name(a), canonical_name(b)
    if x.lower() == y.lower():
        return True
    if "Lactobacillus" in (x, y):
        other = y if x == "Lactobacillus" else x
        return other in LACTOBACILLUS_2020_GENERA
    return False
