"""Stool markers, questionnaire scoring, safety rules and cited findings."""
