"""The paper layer: the experiments of Kafetzis and Koutsopoulos, their figures, the
paper's claims and the reproduction report.

It imports the library (:mod:`dnnsplit`) and is never imported by it, so the model, the
solvers and the command line need no plotting library. A figure is four steps, each a
notebook cell a reader can redo on its own::

    rows = sweeps.improvement(setup, grid)          # the sweep: tidy rows
    summary = stats.improvement_by_devices(rows, "variance")
    fig = plots.improvement_vs_devices(summary, "variance", caption=...)
    output.save_figure(fig, "fig3a", {"": rows, "summary": summary}, output_dir)

Modules: :mod:`~dnnsplit.paper.sweeps` (setup + grid → rows), :mod:`~dnnsplit.paper.stats`
(rows → summaries), :mod:`~dnnsplit.paper.plots` (summaries → figures),
:mod:`~dnnsplit.paper.output` (files and manifests), :mod:`~dnnsplit.paper.captions`,
:mod:`~dnnsplit.paper.claims` (the paper's claims as data),
:mod:`~dnnsplit.paper.verdicts` (one verdict function per kind of claim),
:mod:`~dnnsplit.paper.report` (REPRODUCTION.md) and :mod:`~dnnsplit.paper.runner` (the
engine of ``./run_all.sh``).
"""
