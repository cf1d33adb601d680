def test_split_name_is_dvcs_target_pattern() -> None:
    """`path:name` is split as DVC's pattern splits it, on 100,000 random targets."""
    import random
    import re

    from labrun.pipeline.targets import split_name

    pattern = re.compile(r"^(?P<path>.*?)(:(?P<name>[^\\/:]*))??$")
    rng = random.Random(5)
    for _ in range(100_000):
        text = "".join(rng.choice("ab:/\\.@") for _ in range(rng.randint(0, 8)))
        match = pattern.match(text)
        assert match is not None
        assert split_name(text) == (match["path"], match["name"]), text
