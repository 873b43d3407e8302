"""Virtual cohorts and in-silico trials.

- :mod:`.population`: population descriptions (YAML) and seeded sampling (Gaussian copula, optional anatomic eligibility).
- :mod:`.mapping`: sampled patient -> engine preset and overrides, valve on a common grid.
- :mod:`.adapter`: :func:`run_patient_chunk`, the one call into the procedure (:func:`mitrasim.procedure.run_procedure_arrays`, batched over a chunk).
- :mod:`.outcomes`: 1-year mortality / HF hospitalisation model with parameter uncertainty.
- :mod:`.trial`: trial files, chunked runs (local, process pool, Dask), Parquet store, resume.
- :mod:`.report`: summary tables with CIs, paired differences, HTML and CSV.
"""
