"""Reading a run: every slice's tables in registry order (:mod:`.results`), the scorecard
built from their steps (:mod:`.scorecard`), the HTML report (:mod:`.document`) and the
terminal views (:mod:`.terminal`)."""
