"""Insights: figures that tell a reader what needs a look (early warnings), computed from the
ledger, the pipeline and the stored model scores for the reports to lay out."""
