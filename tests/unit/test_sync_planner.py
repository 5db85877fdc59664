"""The sync planner: literal cases, and properties over random trees (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from objstore.domain.errors import ConfigurationError
from objstore.syncing.planner import (
    Action,
    ActionKind,
    Entry,
    Policy,
    Prior,
    delete_limit,
    delete_refusal,
    plan_one_way,
    plan_two_way,
)


def entries(side: dict[str, str]) -> list[Entry]:
    return [Entry(key, len(value), value) for key, value in sorted(side.items())]


def prior(state: dict[str, tuple[str, str]]) -> list[Prior]:
    return [Prior(key, a, b) for key, (a, b) in sorted(state.items())]


def one_way(src: dict[str, str], dst: dict[str, str], state: dict[str, tuple[str, str]], **kw: object) -> list[Action]:
    options = {"delete": True, "prior_sync": bool(state)} | kw
    return list(plan_one_way(entries(src), entries(dst), prior(state), **options))  # type: ignore[arg-type]


def kinds(actions: list[Action]) -> dict[str, str]:
    return {action.key: action.kind.value for action in actions}


def test_first_push_uploads_everything_and_mirrors_extras_away() -> None:
    actions = one_way({"a": "1", "b": "22"}, {"b": "xx", "z": "9"}, {})
    assert kinds(actions) == {"a": "upload", "b": "upload", "z": "delete"}
    assert next(a for a in actions if a.key == "b").verify_content  # same size, no record: compare contents


def test_nothing_changed_means_nothing_to_do() -> None:
    state = {"a": ("1", "e1")}
    assert kinds(one_way({"a": "1"}, {"a": "e1"}, state)) == {"a": "skip"}


def test_a_same_size_change_is_an_upload() -> None:
    state = {"a": ("v1", "e1")}
    assert kinds(one_way({"a": "v2"}, {"a": "e1"}, state)) == {"a": "upload"}


def test_a_destination_change_is_kept_unless_forced() -> None:
    state = {"a": ("v1", "e1"), "b": ("w1", "f1")}
    actions = one_way({"a": "v1", "b": "w1"}, {"a": "e2", "b": "f1", "new": "n"}, state)
    assert kinds(actions) == {"a": "conflict", "b": "skip", "new": "conflict"}
    forced = one_way({"a": "v1", "b": "w1"}, {"a": "e2", "b": "f1", "new": "n"}, state, policy=Policy.SOURCE_WINS)
    assert kinds(forced) == {"a": "upload", "b": "skip", "new": "delete"}


def test_a_source_delete_deletes_only_what_the_destination_did_not_change() -> None:
    state = {"a": ("v1", "e1"), "b": ("w1", "f1")}
    assert kinds(one_way({}, {"a": "e1", "b": "f2"}, state)) == {"a": "delete", "b": "conflict"}


def test_without_delete_extras_stay() -> None:
    assert kinds(one_way({}, {"z": "9"}, {}, delete=False)) == {"z": "skip"}


def test_records_of_keys_gone_everywhere_are_forgotten() -> None:
    assert kinds(one_way({}, {}, {"gone": ("1", "2")})) == {"gone": "forget"}


def test_two_way_carries_each_sides_changes_and_reports_conflicts() -> None:
    state = {"a": ("1", "e1"), "b": ("2", "f2"), "c": ("3", "g3"), "d": ("4", "h4")}
    left = {"a": "1x", "b": "2", "c": "3x", "new-a": "n"}
    right = {"a": "e1", "b": "f2x", "c": "g3x", "d": "h4", "new-b": "m"}
    actions = list(plan_two_way(entries(left), entries(right), prior(state)))
    assert kinds(actions) == {
        "a": "upload",
        "b": "download",
        "c": "conflict",
        "d": "delete",
        "new-a": "upload",
        "new-b": "download",
    }


# --- properties -----------------------------------------------------------------------------------------------

keys = st.sampled_from(["a", "a-b", "a/b", "a/c/d", "b", "\u00e9", "e\u0301", "z z"])
trees = st.dictionaries(keys, st.sampled_from(["1", "2", "33", "444"]), max_size=8)


def apply_one_way(src: dict[str, str], dst: dict[str, str], actions: list[Action]) -> dict[str, str]:
    result = dict(dst)
    for action in actions:
        if action.kind is ActionKind.UPLOAD:
            result[action.key] = src[action.key]
        elif action.kind is ActionKind.DELETE:
            del result[action.key]
    return result


@given(src=trees, dst=trees)
@settings(max_examples=300)
def test_a_first_one_way_plan_makes_the_destination_equal_the_source(src: dict[str, str], dst: dict[str, str]) -> None:
    actions = one_way(src, dst, {})
    assert apply_one_way(src, dst, actions) == src
    assert not [a for a in actions if a.kind is ActionKind.CONFLICT]


@given(base=trees, src=trees, dst_changes=trees, dst_deletes=st.sets(keys))
@settings(max_examples=300)
def test_what_only_the_destination_changed_is_never_overwritten_or_deleted(
    base: dict[str, str], src: dict[str, str], dst_changes: dict[str, str], dst_deletes: set[str]
) -> None:
    # The last sync left both sides equal to `base`; then the source became `src` and the destination changed.
    state = {key: (value, "d" + value) for key, value in base.items()}
    dst = {key: "d" + value for key, value in base.items() if key not in dst_deletes}
    dst.update({key: "changed-" + value for key, value in dst_changes.items()})
    actions = one_way(src, dst, state, prior_sync=True)
    touched = {a.key for a in actions if a.kind in (ActionKind.UPLOAD, ActionKind.DELETE)}
    changed_on_destination = {key for key in dst if state.get(key, ("", ""))[1] != dst[key]}
    assert not (touched & changed_on_destination)
    # Everything else ends equal to the source (an upload gives the destination its own token for the content).
    result = apply_one_way({key: "d" + value for key, value in src.items()}, dst, actions)
    for key in set(src) | set(dst):
        if key not in changed_on_destination:
            assert result.get(key) == ("d" + src[key] if key in src else None), key


@given(base=trees, left_changes=trees, right_changes=trees, left_deletes=st.sets(keys), right_deletes=st.sets(keys))
@settings(max_examples=300)
def test_a_two_way_plan_converges_and_reports_every_conflict(
    base: dict[str, str],
    left_changes: dict[str, str],
    right_changes: dict[str, str],
    left_deletes: set[str],
    right_deletes: set[str],
) -> None:
    state = {key: (value, value) for key, value in base.items()}
    left = {k: v for k, v in base.items() if k not in left_deletes} | {k: "L" + v for k, v in left_changes.items()}
    right = {k: v for k, v in base.items() if k not in right_deletes} | {k: "R" + v for k, v in right_changes.items()}
    actions = list(plan_two_way(entries(left), entries(right), prior(state)))
    a, b = dict(left), dict(right)
    for action in actions:
        if action.kind is ActionKind.UPLOAD:
            b[action.key] = a[action.key]
        elif action.kind is ActionKind.DOWNLOAD:
            a[action.key] = b[action.key]
        elif action.kind is ActionKind.DELETE:
            b.pop(action.key)
        elif action.kind is ActionKind.DELETE_SOURCE:
            a.pop(action.key)
    conflicts = {action.key for action in actions if action.kind is ActionKind.CONFLICT}
    for key in (set(a) | set(b)) - conflicts:
        assert a.get(key) == b.get(key), key
    # A key changed (or deleted) on both sides differently, with a record, is a reported conflict.
    for key in set(base):
        left_moved = left.get(key) != base[key]
        right_moved = right.get(key) != base[key]
        if left_moved and right_moved and left.get(key) != right.get(key):
            assert key in conflicts


def test_the_delete_limit_is_a_count_or_a_share_rounded_up() -> None:
    assert delete_limit("50%", 10) == 5
    assert delete_limit("50%", 1) == 1  # one delete in a tiny tree is not blocked
    assert delete_limit("7", 1000) == 7
    with pytest.raises(ConfigurationError, match="a count or a percentage"):
        delete_limit("half", 10)


def test_deletes_are_refused_after_failures_from_an_empty_source_and_above_the_limit() -> None:
    def refusal(**changes: object) -> str | None:
        given_ = {"failed": False, "sources": 10, "dests": 10, "wanted": 5, "max_delete": "50%", "force": False}
        return delete_refusal(**{**given_, **changes})  # type: ignore[arg-type]

    assert refusal() is None
    assert "some operations failed" in (refusal(failed=True, force=True) or "")  # forcing never skips a failure
    assert "the source is empty" in (refusal(sources=0) or "")
    assert refusal(sources=0, force=True) is None
    assert "exceed --max-delete 50% (5)" in (refusal(wanted=6) or "")
    assert refusal(wanted=6, force=True) is None
    assert refusal(wanted=6, sources=12) is None  # the limit is a share of the larger side
