from bifrostc.runtime.mcp.naming import MAX_TOOL_NAME, gateway_tool_name, tool_allowed, unique_tool_name


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
