"""Small packaged data: bundled default reference, knowledge tables, questionnaire keys."""
