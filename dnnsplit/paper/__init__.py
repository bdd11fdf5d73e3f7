"""The paper layer: the experiments of Kafetzis and Koutsopoulos, their figures, the
paper's claims and the reproduction report.

It imports the library (:mod:`dnnsplit`) and is never imported by it, so the model, the
solvers and the command line need no plotting library. A figure is four steps, each a
notebook cell a reader can redo on its own::

    rows = fig3.improvement(setup, grid)          # the sweep: tidy rows
    summary = fig3.improvement_by_devices(rows, "variance")
    fig = fig3.improvement_vs_devices(summary, "variance", caption=...)
    output.save_figure(fig, "fig3a", {"": rows, "summary": summary}, output_dir)

**One module per study** (its notebook in brackets), each holding its sweep, its
summaries, its figures and its section of the report: ``quickstart`` (00), ``fig4`` (01),
``fig3`` (02), ``fig5`` (03), ``beyond`` (04), ``networks`` (05), ``readings`` (06),
``testbed`` (08), ``energy`` (09) and ``online`` (10).

**Shared primitives** under them: ``sweeps`` (grids, points, solves and tidy rows, run by
``engine``), ``stats`` (summaries over seeds), ``plots`` (the style and the drawing
pieces), ``output`` (files and manifests), ``captions`` and ``text`` (templates). **The
judgement**: ``claims`` (the paper's claims as data), ``verdicts`` (the rules, applied
point by point) and ``report`` (REPRODUCTION.md). ``runner`` is the engine of
``./run_all.sh``, ``site`` the offline site and ``compare`` its ``--check``.
"""
