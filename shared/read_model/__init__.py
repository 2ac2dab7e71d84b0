"""The read models' shapes and folds: the contract between the projector and the query service.

Like the domain's decider beside it, this package is pure (no I/O): `products` is the view of
one product (`admit` is the version guard, `apply` the fold of one event), `history` the
document kept per event, `category_stats` the statistics per category and currency, and
`documents` the TypedDicts of what MongoDB holds. The projector writes what these functions
compute; the query service reads the same shapes and folds history with the same `apply`.
"""
