"""Scope-walk entries for the areas app (see core/tests/test_scope_walk.py)."""

URL_KWARGS = {
    # A South area's group page settings (out of a North organiser's reach).
    "areas:group_edit": lambda w: {"pk": w.areas.bristol.pk},
}
