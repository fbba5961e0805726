"""Compose ecology, gut-brain axis and clinical layers into one :class:`~gutbrain.result.Result`.

The domain packages never import each other; this module joins them:

1. profile summary (top taxa per rank, unassigned share, depth, copy-number flag) and read QC;
2. alpha diversity at genus and species rank (``gutbrain.ecology.alpha``) with reference-cohort
   percentiles (``gutbrain.axis.reference``: cohorts of >= 20 samples that do not hold
   the sample; one *headline* cohort, the largest of the sample's method kind, is the number the
   findings quote) and the "no universal normal range" context;
2b. personal beta diversity at genus rank against the packaged reference genus tables
   (``gutbrain.ecology.reference_beta``: Bray–Curtis and Aitchison, the sample's median distance
   and its place among the members' own, PCoA with the sample added);
3. guild scores, taxa of interest and, when a KO table and module definitions are given, GBM
   coverage (``gutbrain.axis``);
4. markers, questionnaires, safety alerts (always on) and recommendations (``gutbrain.clinical``);
5. findings, each with source ids and a grade, checked against the unsupported claims of the
   knowledge guide (a match is a bug: :class:`~gutbrain.clinical.wording.UnsupportedClaimError`);
6. references (every source cited anywhere in the result) and provenance.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from gutbrain import __version__
from gutbrain.axis.evidence import citable_sources, earned_grade
from gutbrain.axis.modules import ModuleDefinition, module_coverage
from gutbrain.axis.reference import (
    NOT_COMPARED,
    ReferenceCohort,
    ReferenceTable,
    headline_cohort,
    load_reference,
    method_kind_of,
    reference_percentiles,
)
from gutbrain.axis.scores import score_guilds, taxa_not_found, taxa_of_interest
from gutbrain.clinical.markers import assess_markers, unsourced_markers
from gutbrain.clinical.questionnaires import score_answers
from gutbrain.clinical.recommendations import recommend
from gutbrain.clinical.safety import safety_alerts
from gutbrain.clinical.wording import UnsupportedClaimError, unsupported_claims
from gutbrain.ecology.alpha import alpha_diversity
from gutbrain.ecology.composition import with_broader_ranks
from gutbrain.ecology.reference_beta import personal_beta
from gutbrain.io.answers import Answers, Markers
from gutbrain.io.knowledge import KnowledgeBase, load_knowledge
from gutbrain.model import Profile, ReadQC
from gutbrain.result import (
    SCHEMA_VERSION,
    Alert,
    Diversity,
    DiversityPercentile,
    Finding,
    GuildScore,
    ModuleCoverage,
    ProfileSummary,
    ReadQCSummary,
    Reference,
    Result,
    ResultProvenance,
    RunInfo,
    TaxonAbundance,
    TaxonOfInterest,
)

__all__ = [
    "CRISIS_WITHOUT_CONTACT",
    "DISCLAIMER",
    "TOP_TAXA",
    "alerts_from_inputs",
    "headline_percentile",
    "interpret_profile",
    "result_texts",
]

logger = logging.getLogger(__name__)

#: Rows per rank kept in the profile summary.
TOP_TAXA = 25
DIVERSITY_METRICS = ("shannon", "inverse_simpson", "observed")

DISCLAIMER = (
    "gutbrain is not a diagnostic device and this is not a diagnosis. The microbiome findings "
    "are average differences between groups of people, with large overlap, and cannot diagnose "
    "or predict depression, anxiety, IBS or any other condition. Questionnaires are screens. "
    "Functional scores describe genetic potential, not measured substances. If you are worried "
    "about your health, talk to a doctor."
)


#: Warning added to a result when the crisis alert fired but no crisis contact was configured.
CRISIS_WITHOUT_CONTACT = (
    "The crisis message names no local crisis line because none is configured for this "
    "installation (--crisis-contact). Please contact your doctor, a local crisis line or your "
    "local emergency number today."
)


def alerts_from_inputs(
    answers: Answers | None,
    markers: Markers | None,
    *,
    knowledge: KnowledgeBase | None = None,
    crisis_contacts: tuple[str, ...] = (),
) -> tuple[Alert, ...]:
    """The safety alerts of ``answers`` and ``markers`` alone (no profile needed).

    The same alerts :func:`interpret_profile` puts in the result; ``gutbrain run`` prints them
    on the terminal before anything else, before the slow profiling stage starts.
    """
    kb = knowledge or load_knowledge()
    age = answers.age if answers is not None else None
    meds = answers.medications if answers is not None else None
    marker_results = assess_markers(markers, kb, age=age, medications=meds) if markers else ()
    questionnaires = score_answers(answers, kb) if answers is not None else ()
    return safety_alerts(
        answers=answers,
        questionnaires=questionnaires,
        markers=marker_results,
        crisis_contacts=crisis_contacts,
    )


def _summary(profile: Profile) -> ProfileSummary:
    # Broader ranks (phylum ... family) rolled up from the best-assigned rank, for composition.
    profile = with_broader_ranks(profile)
    top: dict[str, tuple[TaxonAbundance, ...]] = {}
    every: dict[str, tuple[TaxonAbundance, ...]] = {}
    counts: dict[str, int] = {}
    for rank in profile.ranks():
        rows = profile.at_rank(rank)
        counts[rank] = len(rows)
        listed = tuple(
            TaxonAbundance(
                name=row.taxon,
                rank=rank,
                abundance=min(1.0, max(0.0, row.abundance)),
                reads=row.reads,
                abundance_low=row.abundance_low,
                abundance_high=row.abundance_high,
                lineage={k: v for k, v in row.lineage.as_dict().items() if v},
                members=row.members,
            )
            for row in rows
        )
        top[rank] = listed[:TOP_TAXA]
        if rank in ("genus", "species"):
            every[rank] = listed
    notes = []
    if not profile.copy_number_corrected:
        notes.append(
            "Abundances are shares of 16S reads, not corrected for 16S gene copy number: taxa "
            "with many copies look more abundant than their share of cells."
        )
    return ProfileSummary(
        sample_id=str(profile.sample_id),
        source=profile.provenance.source,
        total_reads=profile.total_reads,
        copy_number_corrected=profile.copy_number_corrected,
        ranks=tuple(profile.ranks()),
        n_taxa=counts,
        top_taxa=top,
        all_taxa=every,
        unassigned={str(k): float(v) for k, v in profile.unassigned.items()},
        notes=tuple(notes),
    )


def _qc(qc: ReadQC | None) -> ReadQCSummary | None:
    if qc is None:
        return None
    return ReadQCSummary(
        reads_in=qc.reads_in,
        reads_kept=qc.reads_kept,
        dropped=dict(qc.dropped),
        bases_kept=qc.bases_kept,
        length_n50=qc.length_n50,
        length_quantiles=dict(qc.length_quantiles),
        mean_quality=qc.mean_quality,
        ambiguous_bases=qc.ambiguous_bases,
        lowercase_reads=qc.lowercase_reads,
    )


def _diversity(
    profile: Profile, kb: KnowledgeBase, table: ReferenceTable, headline: ReferenceCohort | None
) -> tuple[Diversity, ...]:
    policy = kb.diversity["DV001"]
    out = []
    for rank in ("genus", "species"):
        if rank not in profile.ranks():
            continue
        metrics = {
            k: (0.0 if v == 0 else v)  # no negative zero in reports
            for k, v in alpha_diversity(profile, rank=rank).items()
        }
        if not metrics.get("observed"):
            out.append(
                Diversity(
                    rank=rank,
                    metrics=metrics,
                    computable=False,
                    reason=f"no reads are assigned at {rank} rank",
                    context=policy.statement,
                    source_ids=policy.source_ids,
                    grade=policy.grade,
                )
            )
            continue
        percentiles: list[DiversityPercentile] = []
        for metric in DIVERSITY_METRICS:
            value = metrics.get(metric)
            if value is not None:
                percentiles.extend(
                    reference_percentiles(
                        metric,
                        value,
                        rank=rank,
                        table=table,
                        sample_id=str(profile.sample_id),
                        headline=headline.key if headline is not None else None,
                    )
                )
        out.append(
            Diversity(
                rank=rank,
                metrics=metrics,
                percentiles=tuple(percentiles),
                not_compared={m: why for m, why in NOT_COMPARED.items() if m in metrics},
                context=policy.statement,
                source_ids=policy.source_ids,
                grade=policy.grade,
            )
        )
    return tuple(out)


def _with_percentiles(
    guilds: Iterable[GuildScore],
    table: ReferenceTable,
    *,
    sample_id: str,
    headline: ReferenceCohort | None,
) -> tuple[GuildScore, ...]:
    out = []
    for g in guilds:
        if g.computable and g.value is not None:
            pct = reference_percentiles(
                f"guild:{g.guild_id}",
                g.value,
                rank="genus",
                table=table,
                ranks_used=g.coverage_rank,
                sample_id=sample_id,
                headline=headline.key if headline is not None else None,
            )
            g = g.model_copy(update={"percentiles": pct})
        out.append(g)
    return tuple(out)


def _with_standing(
    taxa: Iterable[TaxonOfInterest], headline: ReferenceCohort | None
) -> tuple[TaxonOfInterest, ...]:
    """Say where the sample stands for each taxon: present, and above/below a cohort median."""
    out = []
    for t in taxa:
        text = f"Present in this sample at {100 * t.abundance:.2f} % of reads"
        update: dict[str, Any] = {"present": True}
        stats = headline.genus_medians.get(t.taxon) if headline is not None else None
        if headline is not None and stats is not None and t.rank == "genus":
            median, prevalence = stats
            if t.abundance > median:
                side = "above"
            elif t.abundance < median:
                side = "below"
            else:
                side = "at"
            text += (
                f", {side} the median of {headline.cohort} ({100 * median:.2f} %; found in "
                f"{100 * prevalence:.0f} % of its {headline.n_samples} samples)"
            )
            update |= {
                "reference_cohort": headline.cohort,
                "reference_median": median,
                "reference_prevalence": prevalence,
            }
        text += ". Being above or below a median describes this sample, not a health state."
        out.append(t.model_copy(update={**update, "standing": text}))
    return tuple(out)


def _vet(items: Iterable[Any], kb: KnowledgeBase) -> tuple[Any, ...]:
    """Each statement with citable sources only and the grade those sources earn."""
    out = []
    for item in items:
        ids = citable_sources(item.source_ids, kb)
        update: dict[str, Any] = {"source_ids": ids}
        if item.grade is not None:
            update["grade"] = earned_grade(item.grade, ids, kb)
        out.append(item.model_copy(update=update))
    return tuple(out)


def headline_percentile(
    percentiles: Iterable[DiversityPercentile], metric: str
) -> DiversityPercentile | None:
    """The percentile of ``metric`` in the headline cohort (the one number quoted everywhere)."""
    return next((p for p in percentiles if p.metric == metric and p.headline), None)


def _findings(
    kb: KnowledgeBase,
    *,
    diversity: tuple[Diversity, ...],
    guilds: tuple[GuildScore, ...],
    answers: Answers | None,
    has_modules: bool,
) -> list[Finding]:
    f: list[Finding] = [
        Finding(
            finding_id="scope-group-level",
            category="scope",
            text="Findings about taxa are average differences between groups of people with "
            "heavy overlap, and meta-analyses still disagree on some of them (even on "
            "diversity). They describe this sample, not your health, and cannot diagnose "
            "depression, anxiety or IBS.",
            knowledge_ids=("DV009", "DV010", "DV011"),
            **kb.citation("scope-group-level"),
        ),
        Finding(
            finding_id="context-potential",
            category="context",
            text="Guild scores are inferred from which bacteria are present; they describe "
            "genetic potential, not measured short-chain fatty acids, GABA or other "
            "substances. 16S data see these functions only approximately.",
            knowledge_ids=("FN001",),
            **kb.citation("context-potential"),
        ),
        Finding(
            finding_id="context-gut-vs-brain",
            category="context",
            text="Serotonin and GABA made in the gut are not the brain's serotonin or GABA. "
            "Serotonin made in the gut does not cross the blood-brain barrier, and there is no "
            "human evidence that GABA made by gut bacteria reaches the brain; the spore-former "
            "and serotonin findings come from mice.",
            knowledge_ids=("FN008", "FN010"),
            **kb.citation("context-gut-vs-brain"),
        ),
        Finding(
            finding_id="confounder-stool-medication",
            category="confounder",
            text="Stool consistency (Bristol type) has the largest single known effect on "
            "stool microbiome composition, and medication (for example antidepressants, "
            "proton-pump inhibitors, metformin, laxatives, recent antibiotics) explains the "
            "most variation overall. Keep both in mind before reading any taxon below.",
            knowledge_ids=("FN016", "FN017", "DV004"),
            **kb.citation("confounder-stool-medication"),
        ),
    ]
    if has_modules:
        f.append(
            Finding(
                finding_id="context-modules",
                category="context",
                text="Gut-brain module coverage is computed from predicted or measured gene "
                "families; it is genetic potential, not measured metabolites.",
                knowledge_ids=("FN009", "FN011"),
                **kb.citation("context-modules"),
            )
        )
    for d in diversity:
        for key in ("DV001", "DV009", "DV011"):
            row = kb.diversity[key]
            if row.shown and not any(x.knowledge_ids == (key,) for x in f):
                f.append(
                    Finding(
                        finding_id=f"diversity-{key.lower()}",
                        category="diversity",
                        text=row.statement,
                        knowledge_ids=(key,),
                        source_ids=row.source_ids,
                        grade=row.grade,
                        verification=row.verification,
                    )
                )
        if d.rank == "genus" and d.computable:
            shannon = d.metrics.get("shannon")
            pct = headline_percentile(d.percentiles, "shannon")
            if shannon is not None and pct is not None:
                f.append(
                    Finding(
                        finding_id="diversity-percentile",
                        category="diversity",
                        text=f"Genus-level Shannon diversity of this sample is {shannon:.2f}, at "
                        f"percentile {pct.percentile:.0f} of {pct.cohort} ({pct.n_samples} "
                        f"samples, {pct.method}), the largest reference cohort of the same kind "
                        "of method. A percentile places the value among other stools; it is "
                        "not a health rating.",
                        knowledge_ids=("DV001",),
                        source_ids=kb.diversity["DV001"].source_ids,
                        grade=kb.diversity["DV001"].grade,
                    )
                )
    for g in guilds:
        if not g.computable or g.value is None:
            continue
        statement = next((x.statement for x in kb.guilds if x.guild == g.guild_id), "")
        if not statement:
            continue
        f.append(
            Finding(
                finding_id=f"guild-{g.guild_id}",
                category="guild",
                text=f"{g.name}: {100 * g.value:.1f} % of reads (data coverage {g.confidence}: "
                f"{100 * g.coverage:.0f} % of reads named at the ranks it needs). {statement}",
                knowledge_ids=g.knowledge_ids,
                source_ids=g.source_ids,
                grade=g.grade,
            )
        )
    if answers is not None and answers.bristol is not None:
        usual = max(set(answers.bristol), key=lambda t: (answers.bristol.count(t), -t))  # type: ignore[union-attr]
        if usual >= 5:
            row = kb.diversity["DV008"]
            f.append(
                Finding(
                    finding_id="confounder-stool-form",
                    category="confounder",
                    text=f"Your usual stool form is Bristol type {usual} (loose). " + row.statement,
                    knowledge_ids=("DV008", "FN016"),
                    source_ids=row.source_ids,
                    grade=row.grade,
                    verification=row.verification,
                )
            )
    if answers is not None:
        meds = answers.medications
        taken = [
            label
            for flag, label in (
                (meds.antidepressant, "an antidepressant"),
                (meds.psychotropic_other, "another psychotropic medicine"),
                (meds.ppi, "a proton-pump inhibitor"),
                (meds.nsaid, "an NSAID"),
                (meds.aspirin, "aspirin"),
                (meds.metformin, "metformin"),
                (meds.laxative, "a laxative"),
            )
            if flag
        ]
        if taken:
            f.append(
                Finding(
                    finding_id="confounder-medication",
                    category="confounder",
                    text="You reported taking " + ", ".join(taken) + ". Medicines like these "
                    "are associated with differences in stool microbiome composition, so taxa "
                    "and scores in this report may partly reflect them.",
                    knowledge_ids=("FN017",),
                    **kb.citation("confounder-medication"),
                )
            )
    if answers is not None and answers.antibiotics is not None:
        months = answers.antibiotics.months_since_last
        if months is not None and months < 6:
            row = kb.diversity["DV020"]
            f.append(
                Finding(
                    finding_id="confounder-antibiotics",
                    category="confounder",
                    text=row.statement,
                    knowledge_ids=("DV020",),
                    source_ids=row.source_ids,
                    grade=row.grade,
                )
            )
    return f


def result_texts(result: Result) -> list[str]:
    """Every human-readable text of a result (used to check wording)."""
    texts = [result.disclaimer]
    texts += [f"{a.title} {a.message}" for a in result.alerts]
    texts += [x.text for x in result.findings]
    texts += [r.text for r in result.recommendations]
    texts += [t.statement for t in result.taxa_of_interest]
    texts += [t.standing for t in result.taxa_of_interest]
    texts += [c for t in result.taxa_of_interest for c in t.caveats]
    texts += [m.statement for m in result.markers] + [c for m in result.markers for c in m.caveats]
    texts += [q.statement for q in result.questionnaires]
    texts += [c for g in result.guilds for c in g.caveats] + [g.reason for g in result.guilds]
    texts += [d.context for d in result.diversity] + list(result.profile.notes)
    texts += list(result.warnings)
    return [t for t in texts if t]


def interpret_profile(
    profile: Profile,
    *,
    answers: Answers | None = None,
    markers: Markers | None = None,
    qc: ReadQC | None = None,
    run_info: RunInfo | None = None,
    knowledge: KnowledgeBase | None = None,
    reference: ReferenceTable | None = None,
    ko_abundances: Mapping[str, float] | None = None,
    module_definitions: tuple[ModuleDefinition, ...] | None = None,
    min_module_coverage: float = 0.66,
    crisis_contacts: tuple[str, ...] = (),
) -> Result:
    """Interpret one profile (plus optional answers, markers, read QC and KO table).

    Safety rules always run; nothing here can switch them off. ``crisis_contacts`` are
    locale-specific crisis lines added to the crisis message (none are built in).

    Raises
    ------
    UnsupportedClaimError
        When generated text matches a claim the knowledge guide lists as unsupported (a bug).
    """
    kb = knowledge or load_knowledge()
    table = reference or load_reference()
    warnings: list[str] = []
    sample_id = str(profile.sample_id)
    headline = headline_cohort(
        table, method_kind=method_kind_of(profile.provenance.source), sample_id=sample_id
    )

    diversity = _diversity(profile, kb, table, headline)
    genus_rows = with_broader_ranks(profile).at_rank("genus")
    beta = personal_beta({r.taxon: r.abundance for r in genus_rows}, sample_id=sample_id)
    guilds = _with_percentiles(
        score_guilds(profile, kb), table, sample_id=sample_id, headline=headline
    )
    taxa = _with_standing(taxa_of_interest(profile, kb), headline)
    not_found = taxa_not_found(profile, kb)
    modules: tuple[ModuleCoverage, ...] = ()
    if ko_abundances is not None and module_definitions is not None:
        modules = module_coverage(
            module_definitions, ko_abundances, min_coverage=min_module_coverage
        )
    elif ko_abundances is not None or module_definitions is not None:
        warnings.append("Module coverage needs both a KO table and module definitions; skipped.")

    age = answers.age if answers is not None else None
    meds = answers.medications if answers is not None else None
    marker_results = assess_markers(markers, kb, age=age, medications=meds) if markers else ()
    for name in unsourced_markers(markers) if markers else ():
        warnings.append(
            f"{name} was given but is not shown: gutbrain has no peer-reviewed source to "
            "interpret it (only laboratory web pages quote ranges for it)."
        )
    questionnaires = score_answers(answers, kb) if answers is not None else ()
    alerts = safety_alerts(
        answers=answers,
        questionnaires=questionnaires,
        markers=marker_results,
        crisis_contacts=crisis_contacts,
    )

    recommendations = recommend(answers=answers)
    if any(a.level == "crisis" for a in alerts) and not crisis_contacts:
        warnings.append(CRISIS_WITHOUT_CONTACT)

    findings = _findings(
        kb, diversity=diversity, guilds=guilds, answers=answers, has_modules=bool(modules)
    )
    for t in taxa:
        findings.append(
            Finding(
                finding_id=f"taxon-{t.knowledge_id.lower()}",
                category="taxon",
                text=f"{t.statement} {t.standing}",
                knowledge_ids=(t.knowledge_id,),
                source_ids=t.source_ids,
                grade=t.grade,
            )
        )
    for mod in modules:
        linked = [
            fn
            for fn in kb.functions.values()
            if mod.module_id in fn.gbm_ids and fn.report_use != "research_only"
        ]
        if not linked:
            continue
        fn = sorted(linked, key=lambda x: (x.report_use != "report_ok", x.knowledge_id))[0]
        state = "counted as present" if mod.present else "not counted as present"
        findings.append(
            Finding(
                finding_id=f"module-{mod.module_id.lower()}",
                category="context",
                text=f"{mod.name} ({mod.module_id}): {mod.steps_covered} of {mod.steps_total} "
                f"steps found in the gene table (coverage {100 * mod.coverage:.0f} %), {state} at "
                f"the {mod.min_coverage:g} threshold. Linked trait: {fn.trait}. This is genetic "
                "potential, not a measured metabolite.",
                knowledge_ids=(fn.knowledge_id,),
                source_ids=fn.source_ids,
                grade=fn.grade,
                verification=fn.verification,
            )
        )
    ibs_rows = {"TX050", "TX051", "TX052", "TX053", "TX054", "TX055"}
    if any(t.knowledge_id in ibs_rows for t in taxa) or (answers and answers.ibs_sss):
        row = next(t for t in kb.taxa if t.knowledge_id == "TX056")
        findings.append(
            Finding(
                finding_id="context-ibs-no-signature",
                category="context",
                text=row.statement,
                knowledge_ids=("TX056",),
                source_ids=row.source_ids,
                grade=row.grade,
                verification=row.verification,
            )
        )
    for m in marker_results:
        findings.append(
            Finding(
                finding_id=f"marker-{m.marker}",
                category="marker",
                text=f"{m.name}: {m.value_as_given} {m.unit_as_given}. {m.statement}",
                source_ids=m.source_ids,
                grade=m.grade,
            )
        )
    for q in questionnaires:
        if q.statement:
            findings.append(
                Finding(
                    finding_id=f"questionnaire-{q.instrument}",
                    category="questionnaire",
                    text=q.statement,
                    source_ids=q.source_ids,
                    grade=q.grade,
                )
            )

    if profile.total_reads is not None and profile.total_reads < 1000:
        warnings.append(
            f"Only {profile.total_reads} reads: abundances and diversity are uncertain."
        )
    if not profile.rows:
        warnings.append("No reads were assigned to any taxon: nothing could be scored.")
    elif "genus" not in profile.ranks():
        warnings.append("The profile has no genus rank: most scores could not be computed.")

    findings.append(
        Finding(
            finding_id="context-consensus",
            category="context",
            text="This report follows the 2025 international consensus on microbiome testing: "
            "it shows the whole profile with alpha and beta diversity, compares it only with "
            "named reference cohorts, and gives no treatment advice from the microbiome alone.",
            **kb.citation("context-consensus"),
        )
    )
    alerts = _vet(alerts, kb)
    findings = list(_vet(findings, kb))
    recommendations = _vet(recommendations, kb)
    guilds = _vet(guilds, kb)
    taxa = _vet(taxa, kb)
    marker_results = _vet(marker_results, kb)
    questionnaires = _vet(questionnaires, kb)
    diversity = _vet(diversity, kb)

    cited: list[str] = []
    for ids in (
        [a.source_ids for a in alerts]
        + [x.source_ids for x in findings]
        + [r.source_ids for r in recommendations]
        + [g.source_ids for g in guilds]
        + [t.source_ids for t in taxa]
        + [m.source_ids for m in marker_results]
        + [q.source_ids for q in questionnaires]
        + [d.source_ids for d in diversity]
    ):
        cited.extend(s for s in ids if s not in cited)
    references = tuple(
        Reference(
            source_id=s.source_id,
            first_author=s.first_author,
            year=s.year,
            title=s.title,
            journal=s.journal,
            doi=s.doi,
            pmid=s.pmid,
            url=s.url,
            verification=s.verification,
        )
        for s in kb.cited(sorted(cited))
    )

    prov = profile.provenance
    provenance = ResultProvenance(
        gutbrain_version=__version__,
        schema_version=SCHEMA_VERSION,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        profile_source=prov.source,
        inputs=dict(prov.inputs),
        parameters={**dict(prov.parameters), "min_module_coverage": min_module_coverage},
        reference=dict(prov.reference),
        tools=dict(prov.tools),
        knowledge_version=kb.version,
        reference_cohorts_version=table.version,
        run_info=run_info if run_info is not None else RunInfo(),
    )
    result = Result(
        sample_id=str(profile.sample_id),
        disclaimer=DISCLAIMER,
        alerts=alerts,
        profile=_summary(profile),
        read_qc=_qc(qc),
        diversity=diversity,
        beta_diversity=beta,
        guilds=guilds,
        taxa_of_interest=taxa,
        taxa_not_found=not_found,
        modules=modules,
        markers=marker_results,
        questionnaires=questionnaires,
        recommendations=recommendations,
        findings=tuple(findings),
        references=references,
        warnings=tuple(warnings),
        provenance=provenance,
    )
    bad = [(t, unsupported_claims(t)) for t in result_texts(result)]
    bad = [(t, n) for t, n in bad if n]
    if bad:
        message = f"generated text matches unsupported claim(s) {bad[0][1]}: {bad[0][0][:120]!r}"
        raise UnsupportedClaimError(message)
    return result
