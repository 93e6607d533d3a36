"""Lodge: shared code for every Lambda function (protocol adapters, normalization, grouping, storage).

Import submodules directly (`from lodge import storage`); this package imports nothing itself so a
function pays only for what it uses at cold start.
"""

__version__ = "0.1.0"
