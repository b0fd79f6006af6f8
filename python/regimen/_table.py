"""Tables as NumPy columns, convertible to pandas."""

from __future__ import annotations

import numpy as np


class Table:
    """A table of named columns: numbers are float64 arrays (NaN where a cell is empty,
    e.g. a median not reached), flags are bool arrays, text is an object array.

    ``table["time"]`` is a column; ``table.to_pandas()`` a DataFrame; ``table.columns`` the
    names in order; ``len(table)`` the number of rows.
    """

    def __init__(self, raw):
        self._columns = {}
        for name, kind, data in raw:
            if kind == "f8":
                column = np.frombuffer(data, dtype="<f8").copy()
            elif kind == "bool":
                column = np.frombuffer(data, dtype=np.uint8).astype(bool)
            else:
                column = np.array(data, dtype=object)
            self._columns[name] = column

    @property
    def columns(self):
        """Column names, in order."""
        return list(self._columns)

    def __getitem__(self, name):
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(
                f"no column {name!r}; the columns are: {', '.join(self._columns)}"
            ) from None

    def __contains__(self, name):
        return name in self._columns

    def __len__(self):
        return len(next(iter(self._columns.values()), ()))

    def to_dict(self):
        """The columns as a dict of arrays."""
        return dict(self._columns)

    def to_pandas(self):
        """The table as a pandas DataFrame (pandas must be installed)."""
        import pandas as pd

        return pd.DataFrame(self._columns, columns=self.columns)

    def __repr__(self):
        return f"Table({len(self)} rows: {', '.join(self.columns)})"
