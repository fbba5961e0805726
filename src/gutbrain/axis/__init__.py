"""Gut-brain axis: taxon names, functional guilds, taxa evidence, modules, reference percentiles.

Terms:

* a *guild* is a group of taxa sharing a function (butyrate production, GABA production, mucin
  degradation, ...); its *score* is the summed abundance of its members found in a profile, with
  a *coverage* (how much of the profile could be checked) and a *confidence*;
* a *taxon of interest* is a profile taxon that the literature associates with a phenotype
  (depression, anxiety, IBS, quality of life); only rows the knowledge base marks ``report_ok``
  are shown;
* a *gut-brain module* (GBM, Valles-Colomer 2019) is a gene pathway; its *coverage* comes from a
  KEGG-orthology table by the Omixer-RPM rules;
* a *reference percentile* places a value among the stool samples of a named cohort.

Every score is genetic potential inferred from taxonomy or genes, never a measured metabolite.
Modules: :mod:`.synonyms`, :mod:`.scores`, :mod:`.modules`, :mod:`.reference`.
"""
