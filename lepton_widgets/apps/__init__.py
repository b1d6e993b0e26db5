"""Apps that compose panels: the workbench (``workbench.py``), its Voilà launcher (``launch.py``, behind
``lepton app``) and the headless-Chromium helpers the browser test and ``benchmarks/ui_latency.py`` share
(``browser.py``). Importing this package imports no widget library."""
