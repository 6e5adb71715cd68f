"""Pretraining configuration: the 14 presets against Table 1 of the paper, validation, round trip, mismatch errors."""

import dataclasses

import pytest

from beatssl_lite.config import (ConfigError, LossConfig, PretrainConfig, TrainConfig, check_same_config,
                                 describe_presets, preset)

# Table 1 of Beat-SSL (arXiv 2601.16147), copied from the spec by hand: row, rhythm, beat ("-" = none), exp.
TABLE1 = """
1  hard   -      1
2  hard   hard   1
3  hard   soft_1 1
4  hard   soft_1 50
5  hard   soft_2 1
6  soft_1 -      1
7  soft_1 -      50
8  soft_1 hard   1
9  soft_1 hard   50
10 soft_1 soft_1 1
11 soft_1 soft_1 50
12 soft_2 -      1
13 soft_2 hard   1
14 soft_2 soft_2 1
"""


def table_rows():
    for line in TABLE1.strip().splitlines():
        row, rhythm, beat, power = line.split()
        yield int(row), rhythm, "none" if beat == "-" else beat, float(power)


@pytest.mark.parametrize("row, rhythm, beat, power", list(table_rows()))
@pytest.mark.parametrize("size", ["tiny", "cpu", "paper"])
def test_every_row_preset_is_the_paper_table(row, rhythm, beat, power, size):
    config = preset(f"row{row}", size=size)
    assert (config.loss.rhythm, config.loss.beat, config.loss.power) == (rhythm, beat, power)
    assert config.size == size and config.name == f"row{row}"
    assert config.loss.temperature == 0.1  # 3KG's
    assert config.loss.beat_weight == 1.0


def test_beat_ssl_is_row9_and_listed_in_help():
    assert preset("beat-ssl", "cpu") == preset("row9", "cpu")
    listing = describe_presets()
    assert len(listing.splitlines()) == 14
    assert "row9 (beat-ssl)" in listing


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown preset 'row15'.*row1, row2.*row14, beat-ssl"):
        preset("row15")
    with pytest.raises(ConfigError, match="size: expected one of 'tiny', 'cpu', 'paper', got 'huge'"):
        preset("row9", size="huge")


@pytest.mark.parametrize("kwargs, message", [
    (dict(rhythm="soft_3"), "rhythm: expected one of 'hard', 'soft_1', 'soft_2'"),
    (dict(beat="-"), "beat: expected one of 'none', 'hard'"),
    (dict(rhythm="soft_1", power=0), "power: expected a number > 0"),
    (dict(temperature=-0.1), "temperature: expected a number > 0"),
    (dict(beat_weight=float("nan")), "beat_weight: expected a number"),
    (dict(rhythm="hard", beat="hard", power=50), "power=50 has no effect"),
])
def test_loss_config_is_validated(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        LossConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=1), "batch_size: expected an integer >= 2"),
    (dict(batch_size=8.0), "batch_size: expected an integer"),
    (dict(epochs=0), "epochs"),
    (dict(max_steps=0), "max_steps"),
    (dict(lr=0), "lr: expected a number > 0"),
    (dict(optimiser="lamb"), "optimiser: expected one of 'adamw', 'adam', 'sgd'"),
    (dict(precision="fp8"), "precision"),
    (dict(gather_negatives=1), "gather_negatives"),
])
def test_train_config_is_validated(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


def test_configs_are_frozen():
    config = preset("row9")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.loss.power = 1.0


def test_overrides_reach_every_part_and_unknown_ones_are_named():
    config = preset("row9", "tiny", batch_size=8, temperature=0.2, max_angle_deg=30.0, seed=3)
    assert (config.train.batch_size, config.loss.temperature, config.augment.max_angle_deg, config.train.seed) == (
        8, 0.2, 30.0, 3)
    assert config.loss.power == 50.0  # untouched
    with pytest.raises(ConfigError, match="unknown setting.*batchsize"):
        preset("row9", batchsize=8)


def test_dict_round_trip_is_plain():
    config = preset("row13", "cpu", max_steps=7)
    values = config.to_dict()

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return value is None or isinstance(value, (str, int, float, bool))

    assert plain(values)
    assert PretrainConfig.from_dict(values) == config
    with pytest.raises(ConfigError, match=r"config\['loss'\]: unknown field\(s\) exponent"):
        PretrainConfig.from_dict({**values, "loss": {**values["loss"], "exponent": 2}})


def test_checkpoint_of_another_configuration_names_both():
    saved = preset("row1", "tiny").to_dict()
    check_same_config(saved, preset("simclr", "tiny"))  # same configuration: fine
    with pytest.raises(ConfigError, match=r"row1/tiny, this run is row9/tiny.*loss\.power: 1\.0 != 50\.0"):
        check_same_config(saved, preset("row9", "tiny"))
    with pytest.raises(ConfigError, match=r"row1/tiny, this run is row1/cpu.*size: 'tiny' != 'cpu'"):
        check_same_config(saved, preset("row1", "cpu"))
