"""Normalization: one rule for each thing every adapter meets (times, backtrace lines, depth and
size, Ruby `inspect` strings), so adapters only map their wire format onto the model.

Cheap to import (no pydantic): the light handlers (CrashLog /announce) use the time parser too.
"""
