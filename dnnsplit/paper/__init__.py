"""The paper layer: the experiments of Kafetzis and Koutsopoulos, their figures, the
paper's claims and the reproduction report.

It imports the library (:mod:`dnnsplit`) and is never imported by it, so the model, the
solvers and the command line need no plotting library. A figure is four steps, each a
notebook cell a reader can redo on its own::

    rows = sweeps.improvement(setup, grid)          # the sweep: tidy rows
    summary = fig3.improvement_by_devices(rows, "variance")
    fig = fig3.improvement_vs_devices(summary, "variance", caption=...)
    output.save_figure(fig, "fig3a", {"": rows, "summary": summary}, output_dir)

**One module per study**, each holding its summaries, its figures and its section of the
report: :mod:`~dnnsplit.paper.quickstart` (notebook 00), :mod:`~dnnsplit.paper.fig4` (01),
:mod:`~dnnsplit.paper.fig3` (02), :mod:`~dnnsplit.paper.fig5` (03),
:mod:`~dnnsplit.paper.beyond` (04), :mod:`~dnnsplit.paper.networks` (05),
:mod:`~dnnsplit.paper.readings` (06), :mod:`~dnnsplit.paper.testbed` (08),
:mod:`~dnnsplit.paper.energy` (09), :mod:`~dnnsplit.paper.online` (10).

**Shared primitives** under them: :mod:`~dnnsplit.paper.sweeps` (setup + grid → rows, run
by :mod:`~dnnsplit.paper.engine`), :mod:`~dnnsplit.paper.stats` (summaries over seeds),
:mod:`~dnnsplit.paper.plots` (the style and the drawing pieces), :mod:`~dnnsplit.paper.output`
(files and manifests), :mod:`~dnnsplit.paper.captions` and :mod:`~dnnsplit.paper.text`
(templates). **The judgement**: :mod:`~dnnsplit.paper.claims` (the paper's claims as data),
:mod:`~dnnsplit.paper.verdicts` (the rules, applied point by point) and
:mod:`~dnnsplit.paper.report` (REPRODUCTION.md). :mod:`~dnnsplit.paper.runner` is the engine
of ``./run_all.sh``, :mod:`~dnnsplit.paper.site` the offline site and
:mod:`~dnnsplit.paper.compare` its ``--check``.
"""
