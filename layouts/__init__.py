"""Pure functions from data (DataFrames, dicts) to Dash components and figures; no database, no callbacks."""
