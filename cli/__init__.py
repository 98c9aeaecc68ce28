"""The ``feedlens`` command line: Typer subcommands over ``core`` (never ``ui`` or Streamlit).

Modules:
- :mod:`cli.main`: app (the Typer application, the ``feedlens`` console script), main
- :mod:`cli.runner`: command, Run, InputError, archive_summary, jsonable, EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED
- :mod:`cli.options`: ArchiveArg, JsonOpt
- :mod:`cli.text`: table, count, number
- :mod:`cli.archive`: import_archive (``feedlens import``)
- :mod:`cli.explore`: features (``feedlens features``), FeatureSet, OFFLINE_FALLBACK
- :mod:`cli.faces`: faces, people (``feedlens faces``, ``feedlens people``), face_index
- :mod:`cli.forecast`: train, forecast (``feedlens train``, ``feedlens forecast``)
- :mod:`cli.filters`: filter_archive (``feedlens filter``), read_pipeline, OutputFormat
"""
