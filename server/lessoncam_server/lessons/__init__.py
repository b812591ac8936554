"""Lessons as people use them: the library and who may see what, the per-request lesson check,
clips, comments, fragments, sharing, who watched, retention and housekeeping."""
