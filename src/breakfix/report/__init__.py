"""The report: ``report.json`` (:mod:`.data`), its charts (:mod:`.plots`), ``report.html`` (:mod:`.html`) and the
comparison of two runs (:mod:`.compare`)."""
