import pytest

from bifrostc.runtime.mcp.naming import (
    MAX_TOOL_NAME,
    gateway_tool_name,
    gateway_uri,
    pattern_covers_server,
    split_gateway_uri,
    tool_allowed,
    unique_tool_name,
)


def test_short_safe_names_are_server_double_underscore_tool():
    assert gateway_tool_name("github", "create_issue") == "github__create_issue"


def test_long_names_are_cut_to_64_chars_with_a_stable_hash():
    name = gateway_tool_name("server", "t" * 100)
    assert len(name) == MAX_TOOL_NAME
    assert name == gateway_tool_name("server", "t" * 100)
    assert name != gateway_tool_name("server", "t" * 99)


def test_unsafe_characters_are_replaced_and_the_name_stays_unique():
    dotted = gateway_tool_name("fs", "read.file")
    underscored = gateway_tool_name("fs", "read_file")
    assert dotted.startswith("fs__read_file_")
    assert dotted != underscored
    assert set(dotted) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def test_colliding_names_get_distinct_suffixes():
    taken = {gateway_tool_name("a__b", "c")}
    other = unique_tool_name("a", "b__c", taken)
    assert other not in taken
    assert len(other) <= MAX_TOOL_NAME


def test_deny_wins_over_allow_and_empty_allow_means_everything():
    assert tool_allowed("read", (), ())
    assert tool_allowed("read_file", ("read_*",), ())
    assert not tool_allowed("write_file", ("read_*",), ())
    assert not tool_allowed("read_secret", ("read_*",), ("*secret*",))


def test_gateway_uris_carry_the_server_and_the_original_uri_verbatim():
    uri = gateway_uri("fs", "file:///tmp/a%20b.txt?x=1#frag")
    assert uri == "bifrostc://fs/file:///tmp/a%20b.txt?x=1#frag"
    assert split_gateway_uri(uri) == ("fs", "file:///tmp/a%20b.txt?x=1#frag")
    assert split_gateway_uri("file:///tmp/a") is None
    assert split_gateway_uri("bifrostc://fs") is None


@pytest.mark.parametrize(
    ("pattern", "covered"),
    [
        ("fs__read_*", True),
        ("fs__*", True),
        ("f*", True),
        ("*", True),
        ("*read", True),
        ("[ef]s__x", True),
        ("??__*", True),
        ("fs", False),
        ("fs__", False),
        ("git__*", False),
        ("[!f]s__x", False),
        ("fsx__*", False),
    ],
)
def test_a_tool_pattern_covers_a_server_when_it_can_match_one_of_its_names(pattern: str, covered: bool):
    assert pattern_covers_server(pattern, "fs") is covered
