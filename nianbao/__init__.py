"""nianbao: China's government-information-disclosure annual reports as validated data.

The core package is pure: it never imports prefect. Flows and tasks in ``flows/`` and
``tasks/`` wrap it.
"""

__version__ = "0.1.0"
# Bumped whenever a change can move a published value: caching keys and lineage carry it.
PARSER_VERSION = "nianbao-parser/0.2.0"
