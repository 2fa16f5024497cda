"""Scope-walk entries for local groups (see core/tests/test_scope_walk.py)."""

URL_KWARGS = {
    # Public group pages: the South's own, and the nation's (which lists South events).
    "groups:detail": lambda w: [{"pk": w.areas.bristol.pk}, {"pk": w.areas.nation.pk}],
}

PUBLIC_NAMESPACES = ("groups",)
