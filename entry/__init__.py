"""The top layer: entry points (the ``despatch`` command and the server start-up).

Only this package may import every other one. Below it, imports point down only:
``despatch`` (settings, errors, offline set-up) <- ``index`` <- ``bot`` <- ``web`` | ``evals``
(side by side) <- ``bench`` (``tests/test_layers.py`` checks it).
"""
