"""Stool markers, questionnaire scoring, safety rules, recommendations and wording checks.

Terms: a *marker* is a stool laboratory value (calprotectin, elastase, FIT, ...); an *instrument*
is a questionnaire (PHQ-9, GAD-7, PSS-10, Bristol, IBS-SSS, ...), scored by its official rule and
always a screen, never a diagnosis; an *alert* is a safety message that cannot be switched off;
a *recommendation* is general lifestyle context tied to what was measured, worded as association.
Modules: :mod:`.questionnaires`, :mod:`.markers`, :mod:`.safety`, :mod:`.recommendations`,
:mod:`.wording`.
"""
