"""General lifestyle context tied to what was measured; association wording only.

Following the 2025 international consensus on clinical microbiome testing (Porcari et al.,
Lancet Gastroenterol Hepatol), gutbrain gives no treatment, cure or supplement advice. Each
recommendation names what triggered it (``based_on``), its source and grade, and says what the
evidence does not show (for example, no effect on mood was tested).

Recommendations come **only from the person's own answers** (diet, fluid intake, antibiotics);
the microbiome alone never triggers advice (a low percentile is not a deficiency, and advice from
a microbiome test alone is what the consensus warns against). With no answers there are none.

Triggers (each fires at most once):

* plant variety: fewer than 30 plant types a week (S026, American Gut, grade C: observational,
  self-reported);
* fibre: under 30 g/day (S051 UK guidance, grade B; S016 for fibre as the producers' substrate);
* fermented foods: fewer than 1 serving a day (S027, one small randomised study, grade C);
* hydration: below the EFSA adequate intake (S052, grade B);
* antibiotics within 2 months: the profile may still be recovering (S029, grade C).
"""

from __future__ import annotations

import logging

from gutbrain.io.answers import Answers
from gutbrain.io.knowledge import load_knowledge
from gutbrain.result import Recommendation

__all__ = ["recommend"]

logger = logging.getLogger(__name__)


def recommend(*, answers: Answers | None) -> tuple[Recommendation, ...]:
    """Return the recommendations triggered by the person's own answers (none without answers).

    Sources and grades come from the packaged knowledge table ``statements.tsv``.
    """
    out: list[Recommendation] = []
    if answers is None:
        return ()
    kb = load_knowledge()
    diet = answers.diet if answers is not None else None
    plants = diet.plant_types_per_week if diet is not None else None
    fibre = diet.fibre_g_per_day if diet is not None else None
    fermented = diet.fermented_servings_per_day if diet is not None else None

    basis: list[str] = []
    if plants is not None and plants < 30:
        basis.append(f"plant types per week: {plants}")
    if basis:
        out.append(
            Recommendation(
                recommendation_id="plant-variety",
                topic="Variety of plant foods",
                text="In a large citizen-science cohort, people who reported eating more than "
                "30 different plant foods a week (vegetables, fruit, whole grains, legumes, "
                "nuts, seeds, herbs and spices) had more diverse stool microbiomes than people "
                "eating 10 or fewer. This is an observed association, not a trial, and it was "
                "not about mood; eating a wide variety of plants is general healthy-eating "
                "advice.",
                based_on=tuple(basis),
                **kb.citation("plant-variety"),
            )
        )

    basis = []
    if fibre is not None and fibre < 30:
        basis.append(f"fibre: {fibre:g} g/day")
    if basis:
        out.append(
            Recommendation(
                recommendation_id="fibre",
                topic="Dietary fibre",
                text="UK guidance for adults is 30 g of fibre a day; most people eat less. "
                "Fermentable fibre is what butyrate-producing bacteria feed on. Reaching the "
                "fibre target is general health advice; it is not a treatment for any "
                "condition and has not been shown to change mood.",
                based_on=tuple(basis),
                **kb.citation("fibre"),
            )
        )

    basis = []
    if fermented is not None and fermented < 1:
        basis.append(f"fermented foods: {fermented:g} servings/day")
    if basis:
        out.append(
            Recommendation(
                recommendation_id="fermented-foods",
                topic="Fermented foods",
                text="In one small randomised study of healthy adults, a diet high in "
                "fermented foods such as yoghurt, kefir, kimchi and sauerkraut raised "
                "microbiota diversity over several weeks and lowered some inflammatory "
                "markers. Effects on mood were not tested.",
                based_on=tuple(basis),
                **kb.citation("fermented-foods"),
            )
        )

    if answers is not None and answers.hydration_l_per_day is not None:
        target = 2.5 if answers.sex == "male" else 2.0
        if answers.hydration_l_per_day < target:
            out.append(
                Recommendation(
                    recommendation_id="hydration",
                    topic="Fluid intake",
                    text=f"The European Food Safety Authority's adequate intake of total water "
                    f"is {target:g} L a day (drinks plus the water in food). This is general "
                    "health advice and not a gut-brain finding.",
                    based_on=(f"hydration: {answers.hydration_l_per_day:g} L/day",),
                    **kb.citation("hydration"),
                )
            )

    abx = answers.antibiotics if answers is not None else None
    if abx is not None and abx.months_since_last is not None and abx.months_since_last < 2:
        out.append(
            Recommendation(
                recommendation_id="antibiotics-recent",
                topic="Recent antibiotics",
                text="Your last antibiotic course was under two months before this sample. "
                "After a short course, most of the community returned within about six weeks "
                "in healthy adults, but some species took months; consider this profile a "
                "snapshot during recovery and, if you wish, test again later.",
                based_on=(f"months since last antibiotic course: {abx.months_since_last:g}",),
                **kb.citation("antibiotics-recent"),
            )
        )
    return tuple(out)
